"""Checkpoints: committed at once (a kill mid-write keeps the last complete one), optimizer and RNG state restored."""

import json
import os

import keras
import numpy as np
import pytest

from common import loop, run_folder
from tests.helpers import count_traces


def _model(seed=0):
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2, name="d")(keras.layers.Dropout(0.5, seed=seed, name="drop")(x)))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def test_a_half_written_checkpoint_is_ignored_and_cleaned_up(tmp_path):
    model = _model()
    loop.save_checkpoint(model, str(tmp_path), {"epoch": 1})
    # a run killed while writing its next checkpoint: files of folder 2 exist, latest.json still says 1
    half = tmp_path / "checkpoint" / "2"
    half.mkdir()
    (half / run_folder.WEIGHTS_FILE).write_bytes(b"truncated")
    state, weights = run_folder.latest_checkpoint(str(tmp_path))
    assert state == {"epoch": 1} and weights.endswith(os.path.join("1", run_folder.WEIGHTS_FILE))
    model.load_weights(weights)  # the committed one is complete
    loop.save_checkpoint(model, str(tmp_path), {"epoch": 2})
    assert json.loads((tmp_path / "checkpoint" / "latest.json").read_text()) == {"checkpoint": "2"}
    assert sorted(os.listdir(tmp_path / "checkpoint")) == ["2", "latest.json"]
    assert run_folder.latest_checkpoint(str(tmp_path))[0] == {"epoch": 2}


def test_optimizer_and_dropout_rng_state_come_back(tmp_path):
    x, y = np.random.normal(size=(16, 4)).astype("float32"), np.random.normal(size=(16, 2)).astype("float32")
    model = _model()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    loop.save_checkpoint(model, str(tmp_path), {"epoch": 2})
    expected_next = model.train_on_batch(x[:4], y[:4])  # what the run would have done next

    fresh = _model()
    fresh.load_weights(run_folder.latest_checkpoint(str(tmp_path))[1])
    assert loop.restore_loop_state(fresh, str(tmp_path))
    assert int(fresh.optimizer.iterations.numpy()) == 8
    np.testing.assert_allclose(fresh.train_on_batch(x[:4], y[:4]), expected_next, rtol=1e-6)


def test_fit_with_a_weight_average_ends_with_the_weights_as_trained():
    """Keras' fit writes the optimizer's moving average into the weights when it ends;
    KeepTrainedWeights puts back the last epoch's trained weights (and so their exact zeros)."""
    x, y = np.random.default_rng(0).normal(size=(2, 32, 3)).astype("float32")
    endings = []
    for callbacks in ([], [loop.KeepTrainedWeights()]):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
        model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9), "mse")
        seen = []
        last_epoch = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.get_weights()))
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[last_epoch, *callbacks])
        endings.append((seen[-1], model.get_weights()))
    (trained, averaged), (trained_again, kept) = endings
    assert not np.allclose(averaged[0], trained[0])  # plain fit: the average, not what was trained
    for a, b, c in zip(kept, trained_again, trained):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(b, c, rtol=1e-6)  # the same training either way



def _two_output_adam_fit(build_first: bool):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="hidden")(inp)
    outputs = {"a": keras.layers.Dense(2, name="a")(hidden), "b": keras.layers.Dense(1, name="b")(hidden)}
    model = keras.Model(inp, outputs, name="two_outputs")
    traces = count_traces(model)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss={"a": "mse", "b": "mse"})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = {"a": rng.normal(size=(16, 2)).astype("float32"), "b": rng.normal(size=(16, 1)).astype("float32")}
    if build_first:
        loop.build_before_fit(model, (x[:4], {k: v[:4] for k, v in y.items()}))
    history = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    return len(traces), history


def test_building_before_fit_traces_a_two_output_adam_step_once_and_trains_the_same():
    """Adam's slots and the two outputs' loss trackers, made inside the first trace, make TensorFlow
    trace the whole step again; build_before_fit makes them before fit."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the second trace is TensorFlow's (JAX's trainer builds them before tracing itself)")
    (traces_plain, plain), (traces_built, built) = _two_output_adam_fit(False), _two_output_adam_fit(True)
    assert (traces_plain, traces_built) == (2, 1)
    assert built.keys() == plain.keys() and {"a_loss", "b_loss"} <= set(built)
    for key in plain:
        assert built[key] == pytest.approx(plain[key], rel=1e-6), key
