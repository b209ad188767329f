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
    config.addinivalue_line("markers", "slow: takes about 15 s or more (mostly a training program's run); these run first")
    if config.pluginmanager.hasplugin("xdist") and config.getoption("maxschedchunk") is None:
        # -n 2 hands tests out one at a time (the slow ones first, below) instead of in chunks of a
        # quarter of the suite, so that no process is left with a queue of long tests at the end
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(config, items):
    """The tests marked slow first, each group in collection order."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def tiny_corpus(tmp_path):
    """ptb.{train,valid,test}.txt of a small template grammar (12 word types + <eos>)."""
    return write_corpus(tmp_path / "data")
