from setuptools import find_packages, setup

setup(
    name="iss-rnns",
    version="0.1.0",
    description="Intrinsic Sparse Structures (ISS) in LSTMs with Keras 3: learn, extract, reproduce.",
    packages=find_packages(include=["common*", "ptb*", "rhns*", "bidaf*", "benchmarks*"]),
    package_data={"ptb": ["configs/*.json"], "rhns": ["configs/*.json"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow-cpu>=2.16; platform_machine=='x86_64'",
        "tensorflow>=2.16; platform_machine!='x86_64'",
        "keras>=3.14",
        "numpy",
        "absl-py",
        "matplotlib",
        "tensorboard",
    ],
    extras_require={
        "test": ["pytest", "pytest-xdist"],  # -n 2: two test processes
        "jax": ["jax"],
    },
)
