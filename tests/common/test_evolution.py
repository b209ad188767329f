"""SET: Erdos-Renyi masks, prune-and-regrow, masks enforced in the compiled step (both backends)."""

import keras
import numpy as np
import pytest

from common.evolution import SparseEvolution, erdos_renyi_density, erdos_renyi_masks, prune_and_regrow
from tests.helpers import count_traces, stacked_lstm_model

PATHS = ["lstm0/lstm_cell/kernel", "lstm0/lstm_cell/recurrent_kernel", "lstm1/lstm_cell/kernel"]


def test_erdos_renyi_density_and_masks():
    assert erdos_renyi_density((200, 800), 20) == pytest.approx(20 * 1000 / 160000)
    assert erdos_renyi_density((4, 4), 20) == 1.0
    model = stacked_lstm_model(input_dim=40, sizes=(30, 20))
    densities = erdos_renyi_masks(model, PATHS, epsilon=3, seed=0)
    for path in PATHS:
        v = next(w for w in model.weights if w.path == path)
        expected = erdos_renyi_density(v.shape, 3)
        assert densities[path] == pytest.approx(np.count_nonzero(v.numpy()) / v.numpy().size)
        assert abs(densities[path] - expected) < 0.05


def test_prune_and_regrow_keeps_the_count_and_removes_the_smallest():
    rng = np.random.default_rng(0)
    w = np.where(rng.random((20, 30)) < 0.2, rng.normal(size=(20, 30)), 0).astype("float32")
    live = np.count_nonzero(w)
    new = prune_and_regrow(w, 0.25, np.random.default_rng(1), init_scale=0.1)
    assert np.count_nonzero(new) == live
    removed = (w != 0) & (new != w)
    kept = (w != 0) & (new == w)
    assert removed.sum() == round(0.25 * live)
    assert np.abs(w[removed]).max() <= np.abs(w[kept]).min()  # the removed were the closest to zero
    grown = (new != 0) & (new != w)
    assert grown.sum() == removed.sum() and np.abs(new[grown]).max() <= 0.1


class _Patterns(keras.callbacks.Callback):
    """Zero patterns at the start and the end of each epoch (before the next evolution)."""

    def __init__(self):
        super().__init__()
        self.begin, self.end = [], []

    def _pattern(self):
        return {v.path: v.numpy() != 0 for v in self.model.weights if v.path in PATHS}

    def on_epoch_begin(self, epoch, logs=None):
        self.begin.append(self._pattern())

    def on_epoch_end(self, epoch, logs=None):
        self.end.append(self._pattern())


def test_masks_hold_during_training_and_evolve_between_epochs():
    model = stacked_lstm_model(input_dim=12, sizes=(10, 8))
    erdos_renyi_masks(model, PATHS, epsilon=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = np.random.normal(size=(32, 7, 12)).astype("float32")
    y = np.random.normal(size=(32, 7, 3)).astype("float32")
    patterns = _Patterns()
    traces = count_traces(model)
    after_first_epoch = []
    first = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: after_first_epoch.append(len(traces)) if e == 0 else None)
    # the evolution runs first at each epoch begin; the recorder sees its result
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[SparseEvolution(PATHS, 0.5, 0.1, seed=0), patterns, first])
    # the evolved zeros are read inside the compiled step: no epoch after the first traces it again
    assert len(traces) == after_first_epoch[0] >= 1
    for epoch in range(3):
        for path in PATHS:
            np.testing.assert_array_equal(patterns.end[epoch][path], patterns.begin[epoch][path])  # mask held
            assert patterns.end[epoch][path].sum() == patterns.begin[0][path].sum()  # same count throughout
    assert any((patterns.begin[1][p] != patterns.end[0][p]).any() for p in PATHS)  # evolution moved weights
