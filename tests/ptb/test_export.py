"""The perplexity ptb.export reports for an exported model: windows from a zero state, scored as Keras scores tokens."""

import keras
import numpy as np
import pytest

from common.lm import window_perplexity
from ptb.config import PRESETS
from ptb.model import window_model


def test_window_perplexity_matches_the_keras_cross_entropy():
    model = window_model(PRESETS["test"], 13, batch_size=2, num_steps=5)
    ids = np.random.default_rng(0).integers(0, 13, size=47)  # 23 tokens per stream: the last window is padded
    got = window_perplexity(model.predict_on_batch, ids, 2, 5)
    streams = ids[:46].reshape(2, 23)
    x, y = np.pad(streams[:, :-1], ((0, 0), (0, 3))), streams[:, 1:]
    xent = [keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(
        y[:, i : i + 5], model.predict_on_batch(x[:, i : i + 5])[:, : y[:, i : i + 5].shape[1]], from_logits=True))
        for i in range(0, 25, 5)]
    expected = np.exp(np.concatenate([t.ravel() for t in xent]).mean())
    assert got == pytest.approx(expected, rel=1e-5)
    assert 5 < got < 40  # an untrained model over 13 types: near uniform
