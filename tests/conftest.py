import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from tests.helpers import write_corpus


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)


def pytest_configure(config):
    config.addinivalue_line("markers", "realdata: needs the real data in ../shared/data (skipped when absent)")
    config.addinivalue_line("markers", "slow: trains for more than a few seconds")


@pytest.fixture
def tiny_corpus(tmp_path):
    """ptb.{train,valid,test}.txt of a small template grammar (12 word types + <eos>)."""
    return write_corpus(tmp_path / "data")
