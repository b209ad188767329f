"""common.layers.LSTM(hoist_inputs=True): the CPU inference form gives the stock layer's outputs."""

import keras
import numpy as np
import pytest

from common.bayes import BayesianLSTM
from common.highway import RecurrentHighway
from common.hlstm import HLSTM
from common.layers import LSTM, nth_draw


def _pair(input_shape, return_sequences=True, **kwargs):
    """A stock and a hoisted layer with the same weights (the trainable ones: a stateful layer's state is its own)."""
    stock = LSTM(6, return_sequences=return_sequences, **kwargs)
    hoisted = LSTM(6, return_sequences=return_sequences, hoist_inputs=True, **kwargs)
    stock.build(input_shape)
    hoisted.build(input_shape)
    for target, source in zip(hoisted.trainable_weights, stock.trainable_weights, strict=True):
        target.assign(source)
    return stock, hoisted


@pytest.mark.parametrize("unroll,go_backwards,return_sequences", [(False, False, True), (True, True, True), (False, False, False)])
def test_hoisted_inputs_give_the_stock_outputs(unroll, go_backwards, return_sequences):
    x = np.random.default_rng(0).normal(size=(3, 7, 5)).astype("float32")
    stock, hoisted = _pair(x.shape, return_sequences, unroll=unroll, go_backwards=go_backwards, bias_initializer="random_normal")
    expected = keras.ops.convert_to_numpy(stock(x))
    got = keras.ops.convert_to_numpy(hoisted(x))
    assert got.shape == expected.shape == ((3, 7, 6) if return_sequences else (3, 6))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not np.allclose(expected[..., 0], expected[..., 1])  # a real, non-degenerate output


def test_hoisted_stateful_layer_carries_its_state():
    x = np.random.default_rng(1).normal(size=(2, 4, 5)).astype("float32")
    stock, hoisted = _pair(x.shape, stateful=True)
    first = keras.ops.convert_to_numpy(stock(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hoisted(x)), first, atol=1e-6)
    second = keras.ops.convert_to_numpy(hoisted(x))  # starts from the carried state
    np.testing.assert_allclose(second, keras.ops.convert_to_numpy(stock(x)), atol=1e-6)
    assert not np.allclose(second, first, atol=1e-4)


def test_hoist_inputs_survives_the_config():
    layer = LSTM(4, hoist_inputs=True)
    assert LSTM.from_config(layer.get_config()).hoist_inputs is True
    assert LSTM(4).get_config()["hoist_inputs"] is False


def test_the_loop_reads_the_projected_inputs(monkeypatch):
    """Hoisted, the recurrence runs over [T, B, 4H] pre-activations (one input product), not over the inputs."""
    import common.layers

    if common.layers._gpu_present():
        pytest.skip("on a GPU the layer keeps the stock (cuDNN) path")
    seen = []
    real_rnn = common.layers.keras_backend.rnn
    monkeypatch.setattr(common.layers.keras_backend, "rnn", lambda step, inputs, *a, **k: seen.append(
        tuple(inputs.shape)) or real_rnn(step, inputs, *a, **k))
    x = np.zeros((2, 3, 5), "float32")
    LSTM(6, hoist_inputs=True)(x)
    assert seen == [(3, 2, 24)]  # time-major [T, B, 4H]


@pytest.mark.parametrize("initializer", [keras.initializers.RandomUniform(-0.1, 0.1, seed=7),
                                         keras.initializers.RandomUniform(-0.1, 0.1),  # unseeded: a random int seed
                                         keras.initializers.Orthogonal(seed=3)])
def test_nth_draw_gives_each_weight_its_own_numbers_reproducibly(initializer):
    first, second = (np.asarray(nth_draw(initializer, n)((6, 6))) for n in (0, 1))
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(np.asarray(nth_draw(initializer, 1)((6, 6))), second)


def test_nth_draw_leaves_seed_generators_and_constants_alone():
    advancing = keras.initializers.RandomUniform(seed=keras.random.SeedGenerator(0))
    assert nth_draw(advancing, 2) is advancing
    zeros = keras.initializers.Zeros()
    assert nth_draw(zeros, 1) is zeros


def test_layers_drawing_several_weights_from_one_initializer_start_them_apart():
    """A same-shaped kernel and recurrent kernel (input width = units), and every RHN depth level."""
    init = keras.initializers.RandomUniform(-0.5, 0.5, seed=0)
    bayes = BayesianLSTM(4, kernel_initializer=init)
    bayes.build((2, 3, 4))
    assert not np.allclose(bayes.kernel.numpy(), bayes.recurrent_kernel.numpy())
    rhn = RecurrentHighway(4, depth=3, kernel_initializer=init)
    rhn.build((2, 3, 4))
    kernels = [rhn.depths[0].kernel.numpy()] + [d.recurrent_kernel.numpy() for d in rhn.depths]
    assert all(not np.allclose(a, b) for i, a in enumerate(kernels) for b in kernels[i + 1 :])
    hlstm = HLSTM(4, 8, kernel_initializer=init)
    hlstm.build((2, 3, 4))
    assert not np.allclose(hlstm.hidden_kernel.numpy().ravel()[:64], hlstm.gate_kernel.numpy().ravel()[:64])
