# CPU image: TensorFlow backend. Default job: the PTB small reproduction (results/ptb_small.md).
#   docker build -t iss-rnns .
#   docker run --rm -v /path/to/ptb:/data/ptb:ro -v $PWD/runs:/runs iss-rnns
#   docker run --rm iss-rnns python -m pytest -q -n 2 tests     # the test suite
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e ".[test]"
RUN python -c "import common, ptb, rhns, bidaf; print('iss-rnns installed')"
CMD ["python", "-m", "ptb.train", "--model=small", "--data_path=/data/ptb", "--save_path=/runs/small", "--verbose=2"]
