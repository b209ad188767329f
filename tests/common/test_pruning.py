import keras
import numpy as np
import pytest

from common.pruning import (ZeroSmallWeights, _Chain, _without_fixed_mask, attach_zero_threshold, hold_zeros_in_every_step,
                            zero_small_weights, zero_threshold_for)
from tests.helpers import count_traces, stacked_lstm_model


def _data():
    x = np.random.normal(size=(16, 7, 6)).astype("float32")
    return x, np.random.normal(size=(16, 7, 3)).astype("float32")


def test_threshold_is_the_larger_of_zero_threshold_and_twice_l1():
    assert zero_threshold_for(1e-4, 0.0) == 1e-4
    assert zero_threshold_for(1e-4, 1e-3) == 2e-3


def test_constraint_zeroes_small_weights_and_respects_mask():
    w = np.array([[0.5, -0.05], [0.2, 0.09]], "float32")
    out = keras.ops.convert_to_numpy(ZeroSmallWeights(0.1)(w))
    np.testing.assert_array_equal(out, [[w[0, 0], 0], [w[1, 0], 0]])
    masked = keras.ops.convert_to_numpy(ZeroSmallWeights(0.0, keep_mask=[[1, 1], [0, 1]])(w))
    np.testing.assert_array_equal(masked, [[w[0, 0], w[0, 1]], [0, w[1, 1]]])


def test_threshold_runs_after_every_step_inside_fit():
    model = stacked_lstm_model()
    attach_zero_threshold(model, 0.05)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    for v in model.trainable_weights:
        w = v.numpy()
        assert np.all((w == 0) | (np.abs(w) >= 0.05)), v.path
    assert sum(int((v.numpy() == 0).sum()) for v in model.trainable_weights) > 0


def test_freeze_keeps_zero_weights_at_zero_while_others_train():
    model = stacked_lstm_model()
    kernel = model.get_layer("lstm0").cell.kernel
    w = kernel.numpy()
    w[:, :5] = 0
    kernel.assign(w)
    before = model.get_layer("lstm1").cell.kernel.numpy().copy()
    attach_zero_threshold(model, 0.0, freeze_zeros=True)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(*_data(), epochs=2, batch_size=4, verbose=0)
    assert np.all(kernel.numpy()[:, :5] == 0)
    assert not np.allclose(model.get_layer("lstm1").cell.kernel.numpy(), before)
    # without freezing the same zeros come back to life
    model2 = stacked_lstm_model()
    kernel2 = model2.get_layer("lstm0").cell.kernel
    kernel2.assign(w)
    model2.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model2.fit(*_data(), epochs=2, batch_size=4, verbose=0)
    assert np.any(kernel2.numpy()[:, :5] != 0)


def test_held_zeros_are_read_from_the_weights_at_every_step_without_tracing_again():
    """hold_zeros_in_every_step (SET, grow-and-prune): zeros moved between fits are held by the same compiled
    step, and the fixed freeze mask that held the old zeros is dropped."""
    model = stacked_lstm_model()
    kernel = model.get_layer("lstm0").cell.kernel
    w = kernel.numpy()
    w[:, :5] = 0
    kernel.assign(w)
    attach_zero_threshold(model, 0.0, freeze_zeros=True)  # fixed masks, as erdos_renyi_masks leaves them
    with pytest.raises(ValueError, match="needs a compiled model"):
        hold_zeros_in_every_step(model, [kernel.path])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    assert hold_zeros_in_every_step(model, [kernel.path]) == [kernel.path] and kernel.constraint is None
    traces = count_traces(model)
    model.fit(*_data(), epochs=1, batch_size=4, verbose=0)
    assert np.all(kernel.numpy()[:, :5] == 0) and np.all(kernel.numpy()[:, 5:] != 0)
    w = kernel.numpy()
    w[:, :5], w[:, 5:10] = 0.1, 0  # the zeros move, as an evolution moves them
    kernel.assign(w)
    model.fit(*_data(), epochs=1, batch_size=4, verbose=0)
    assert np.all(kernel.numpy()[:, 5:10] == 0)
    assert np.all(kernel.numpy()[:, :5] != 0) and np.all(kernel.numpy()[:, :5] != 0.1)  # alive and trained
    assert len(traces) == 1
    wrapped = model.optimizer.apply
    hold_zeros_in_every_step(model, [kernel.path])  # again: one wrapper, not two
    assert model.optimizer.apply is wrapped and list(wrapped.held_zero_variables.values()) == [kernel]
    # a user's constraint and a threshold stay; only the mask goes
    user = keras.constraints.NonNeg()
    kept = _without_fixed_mask(_Chain(user, ZeroSmallWeights(0.1, keep_mask=[1, 0])))
    assert kept.first is user and kept.second.threshold == 0.1 and kept.second.keep_mask is None
    assert _without_fixed_mask(_Chain(user, ZeroSmallWeights(0.0, keep_mask=[1, 0]))) is user


def test_user_constraint_is_kept_and_followed_by_threshold():
    model = stacked_lstm_model()
    v = model.get_layer("dense").kernel
    v.constraint = keras.constraints.MaxNorm(0.01)
    attach_zero_threshold(model, 1e-3)
    attach_zero_threshold(model, 1e-3)  # attaching twice must not stack
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(*_data(), epochs=1, batch_size=4, verbose=0)
    w = v.numpy()
    assert np.all(np.linalg.norm(w, axis=0) <= 0.01 + 1e-6)


def test_zero_small_weights_once():
    model = stacked_lstm_model()
    n = zero_small_weights(model, 0.05)
    assert n > 0
    assert all(np.all((v.numpy() == 0) | (np.abs(v.numpy()) >= 0.05)) for v in model.trainable_weights)
