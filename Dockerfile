# CPU image (stub until the Docker issue): installs the package and runs the test suite.
FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e ".[test]"
CMD ["python", "-m", "pytest", "-q", "tests"]
