"""H-LSTM maths, gradients of dormant weights, growth and pruning, the grow-and-prune schedule (both backends)."""

import keras
import numpy as np
import pytest

from common.bayes import BayesianLSTM
from common.evolution import erdos_renyi_masks
from common.highway import RecurrentHighway
from common.hlstm import HLSTM, GrowAndPrune, grow, prune_to_density, weight_gradients
from tests.helpers import count_traces


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_one_step_matches_numpy_and_state_is_carried():
    layer = HLSTM(3, 2, stateful=True, kernel_initializer=keras.initializers.RandomUniform(-0.8, 0.8, seed=0))
    layer.build((2, 4, 5))
    rng = np.random.default_rng(0)
    layer.hidden_bias.assign(rng.normal(size=8))
    layer.gate_bias.assign(rng.normal(size=(4, 3)))
    x = rng.normal(size=(2, 4, 5)).astype("float32")
    w1, b1, w2, b2 = (v.numpy() for v in (layer.hidden_kernel, layer.hidden_bias, layer.gate_kernel, layer.gate_bias))
    h = c = np.zeros((2, 3))
    expected = []
    for t in range(4):
        hidden = np.maximum(np.concatenate([x[:, t], h], axis=1) @ w1 + b1, 0).reshape(2, 4, 2)
        pre = np.einsum("bkm,kmh->bkh", hidden, w2) + b2
        c = _sigmoid(pre[:, 1]) * c + _sigmoid(pre[:, 0]) * np.tanh(pre[:, 2])
        h = _sigmoid(pre[:, 3]) * np.tanh(c)
        expected.append(h)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), np.stack(expected, 1), atol=1e-5)
    np.testing.assert_allclose(layer.states[0].numpy(), h, atol=1e-5)


def test_weight_gradients_of_a_linear_model():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False, name="d")(inputs))
    model.compile(loss="mse")
    model.get_layer("d").kernel.assign(np.zeros((3, 1)))  # all dormant: gradients still flow
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]])).astype("float32")
    got = weight_gradients(model, [(x, y)], ["d/kernel"])["d/kernel"]
    np.testing.assert_allclose(got, 2 * x.T @ (0 - y) / len(x), rtol=1e-4)


def test_grow_and_prune_pick_by_gradient_and_magnitude():
    w = np.array([[0.0, 0.5, 0.0], [0.0, -0.1, 2.0]], "float32")
    g = np.array([[0.3, 9.0, -0.7], [0.1, 5.0, 1.0]], "float32")
    grown = grow(w, g, 2, learning_rate=0.1)
    assert grown[0, 2] == pytest.approx(0.07) and grown[0, 0] == pytest.approx(-0.03)  # largest |grad| among zeros
    assert grown[1, 0] == 0 and (grown[w != 0] == w[w != 0]).all()
    pruned = prune_to_density(grown, 2 / 6)
    assert np.count_nonzero(pruned) == 2 and pruned[1, 2] == 2.0 and pruned[0, 1] == 0.5


def test_schedule_grows_then_prunes_to_the_target_and_holds_masks():
    inputs = keras.Input((5, 4))
    out = keras.layers.Dense(2, name="out")(HLSTM(6, 3, name="h")(inputs))
    model = keras.Model(inputs, out)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    paths = ["h/hidden_kernel", "h/gate_kernel"]
    erdos_renyi_masks(model, paths, epsilon=1.0, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 5, 4)).astype("float32"), rng.normal(size=(32, 5, 2)).astype("float32")
    density = lambda: {p: np.count_nonzero(v.numpy()) / v.numpy().size for p, v in  # noqa: E731
                       ((v.path, v) for v in model.weights) if p in paths}
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(density()))
    schedule = GrowAndPrune(paths, [(x[:16], y[:16])], grow_epochs=1, grow_fraction=1.0, prune_epochs=2,
                            target_density=0.2, learning_rate=0.01)
    start = density()
    traces, after_first_epoch = count_traces(model), []
    first = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: after_first_epoch.append(len(traces)) if e == 0 else None)
    model.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[schedule, record, first])
    assert len(traces) == after_first_epoch[0] >= 1  # growing and pruning do not trace the step again
    for p in paths:
        assert seen[0][p] == pytest.approx(start[p])  # masks held while training
        assert seen[1][p] > seen[0][p]  # grown before epoch 2
        assert seen[2][p] < seen[1][p] and seen[3][p] <= 0.2 + 1e-9  # pruned to the target in two steps


@pytest.mark.parametrize("layer", [
    HLSTM(3, 2, stateful=True, name="a"),
    BayesianLSTM(3, init_log_sigma2=-8.0, seed=1, name="b"),
    RecurrentHighway(3, 2, state_dropout=0.1, name="c"),
])
def test_scanned_layers_round_trip_their_config(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.units == 3
