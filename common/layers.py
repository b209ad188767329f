"""Layers that fix a backend gap of stock Keras for the tasks here.

`LSTM`: keras.layers.LSTM(stateful=True) keeps its carried state in variables that
Keras creates untracked. TensorFlow updates them in place, but the JAX trainer threads only
tracked variables through its compiled steps, so on JAX the state is read as a constant and every
batch starts from zero: the state is not carried. Here the state is a tracked non-trainable
weight, so fit / evaluate / predict carry it on both backends. It is left out of saved weights
(a checkpoint holds no batch-shaped state, exactly as with the stock layer), and the layer is
otherwise the stock one (same cuDNN path, same config). It keeps the class name `LSTM` on
purpose: Keras keys saved weights by class name, so checkpoints stay interchangeable with models
built from keras.layers.LSTM.

`LSTM(hoist_inputs=True)` is for inference without cuDNN (CPU, TFLite): stock Keras multiplies
the input kernel once per time step, at the batch size; hoisted, it is one product over all
B x T tokens before the recurrence, and only h @ recurrent_kernel stays in the loop. Same weights
and same outputs (up to float rounding). It pays where the input kernel is large (a 1500-wide
embedding: the per-step product streams the whole kernel from memory for a batch of 10) and on
TFLite; for narrow inputs the extra time-major copy can cost more than it saves
(results/speedup.md). Where a GPU is present the layer keeps the stock path (cuDNN does this and
more).
"""

from __future__ import annotations

import keras
from keras.src import backend as keras_backend  # rnn(): the loop stock RNN layers run on

STATE_PREFIX = "rnn_state"  # the name of every carried-state variable of the layers here


def lstm_update(z, c, activation=keras.ops.tanh, recurrent_activation=keras.ops.sigmoid):
    """(h, c) of one LSTM step from its gate pre-activations z = [i, f, c~, o] (Keras' order) and the old c."""
    z_i, z_f, z_c, z_o = keras.ops.split(z, 4, axis=-1)
    c = recurrent_activation(z_f) * c + recurrent_activation(z_i) * activation(z_c)
    return recurrent_activation(z_o) * activation(c), c


def _gpu_present() -> bool:
    """Whether the backend computes on a GPU (where stock Keras LSTMs take the cuDNN path)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


@keras.saving.register_keras_serializable(package="iss_rnns")
class LSTM(keras.layers.LSTM):
    """Drop-in keras.layers.LSTM whose stateful state is carried on the JAX backend too."""

    def __init__(self, units, hoist_inputs: bool = False, **kwargs):
        super().__init__(units, **kwargs)
        self.hoist_inputs = bool(hoist_inputs)

    def get_config(self):
        return {**super().get_config(), "hoist_inputs": self.hoist_inputs}

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if not self.hoist_inputs or mask is not None or cell.dropout or cell.recurrent_dropout or _gpu_present():
            return super().inner_loop(sequences, initial_state, mask, training=training)
        ops = keras.ops
        time_major = ops.transpose(sequences, (1, 0, 2))  # [T, B, D]: the narrow tensor is the one moved
        projected = ops.matmul(time_major, cell.kernel)  # [T, B, 4H] in one product
        if cell.use_bias:
            projected = projected + cell.bias

        def step(z_inputs, states):
            h, c = states
            h, c = lstm_update(z_inputs + ops.matmul(h, cell.recurrent_kernel), c, cell.activation, cell.recurrent_activation)
            return h, [h, c]

        last, outputs, states = keras_backend.rnn(step, projected, list(initial_state), go_backwards=self.go_backwards,
                                                  unroll=self.unroll, input_length=sequences.shape[1], time_major=True,
                                                  return_all_outputs=self.return_sequences)
        return last, ops.transpose(outputs, (1, 0, 2)), states

    def _create_state_variables(self, batch_size):
        self.states = [
            self.add_weight(shape=tuple(v.shape), initializer="zeros", trainable=False, name=f"{STATE_PREFIX}_{i}")
            for i, v in enumerate(self.get_initial_state(batch_size))
        ]

    def save_own_variables(self, store):
        pass  # the carried state is run-time, not a weight

    def load_own_variables(self, store):
        pass


@keras.saving.register_keras_serializable(package="iss_rnns")
class OneHot(keras.layers.Layer):
    """Token ids [..] -> one-hot float vectors [.., depth]: a model whose first LSTM reads words with no embedding.

    Lobacheva et al.'s language models do: their input kernel is [vocabulary, 4H], and their
    compression ratios count it. A stock LSTM after this layer multiplies the one-hot vectors (the
    product an embedding lookup of the kernel rows would skip).
    """

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, inputs):
        return keras.ops.one_hot(keras.ops.cast(inputs, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


def nth_draw(initializer, n: int):
    """The initializer for the n-th weight that a layer draws from one given initializer.

    A Keras initializer seeded with an integer, or unseeded, returns the same numbers at every call,
    so a layer drawing several weights from it would start same-shaped ones equal (a kernel and a
    recurrent kernel, the depth levels of an RHN). Such an initializer (an unseeded one holds a random
    integer) gets seed + n here; one seeded with a SeedGenerator (which advances at every call), or
    one that draws nothing (zeros, a constant), is returned as it is.
    """
    seed = getattr(initializer, "seed", None)
    if n == 0 or isinstance(seed, bool) or not isinstance(seed, int):
        return initializer
    return initializer.__class__.from_config({**initializer.get_config(), "seed": seed + n})


def rnn_state_variables(model) -> set[int]:
    """ids of the carried-state variables of every stateful RNN in the model (ours: tracked, named rnn_state*)."""
    return {id(v) for v in model.weights if not v.trainable and v.name.startswith(STATE_PREFIX)}


class ScannedRNN(keras.layers.Layer):
    """Base of the recurrent layers written with keras.ops.scan (RHN, Bayesian LSTM, H-LSTM).

    Gives them what the stock layers have: a carried state that persists between calls when
    stateful (tracked non-trainable variables, so JAX carries it too; left out of saved weights),
    `reset_state()`, and the scan over time. A subclass sets `state_count` (1 for h, 2 for h and c)
    and calls `_build_states(input_shape)` in build and `_scan(step, inputs_by_time)` in call.
    """

    state_count = 1

    def __init__(self, units: int, stateful: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.stateful = int(units), stateful
        self.states = None

    def _build_states(self, input_shape):
        if not self.stateful:
            return
        if input_shape[0] is None:
            raise ValueError(f"a stateful {type(self).__name__} needs a fixed batch size (keras.Input(batch_shape=...))")
        self.states = [self.add_weight(shape=(int(input_shape[0]), self.units), initializer="zeros", trainable=False,
                                       name=f"{STATE_PREFIX}_{i}") for i in range(self.state_count)]

    def reset_state(self):
        for s in self.states or []:
            s.assign(keras.ops.zeros(s.shape, dtype=s.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "stateful": self.stateful}

    def save_own_variables(self, store):
        """The layer's own trainable variables only: the carried state is run-time, not a weight."""
        for i, v in enumerate(self._trainable_variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store):
        for i, v in enumerate(self._trainable_variables):
            v.assign(store[str(i)])

    def _scan(self, step, inputs_by_time, batch, dtype):
        """Run step(states, x_t) -> states over [T, B, ...] inputs; returns the first state at every step [B, T, H].

        The states travel as one [B, state_count * H] tensor, which is also what each step emits
        (Keras' TensorFlow scan wants the per-step output shaped like the carry).
        """
        h, n = self.units, self.state_count
        if self.stateful:
            start = keras.ops.concatenate([keras.ops.convert_to_tensor(s) for s in self.states], axis=-1)
        else:
            start = keras.ops.zeros((batch, n * h), dtype=dtype)

        def packed(carry, x_t):
            new = step([carry[:, i * h : (i + 1) * h] for i in range(n)], x_t)
            carry = keras.ops.concatenate(list(new), axis=-1)
            return carry, carry

        final, outputs = keras.ops.scan(packed, start, inputs_by_time)
        if self.stateful:
            for i, s in enumerate(self.states):
                s.assign(final[:, i * h : (i + 1) * h])
        return keras.ops.transpose(outputs[:, :, :h], (1, 0, 2))
