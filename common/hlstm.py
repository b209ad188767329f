"""H-LSTM and grow-and-prune training (Dai, Yin, Jha 2018).

H-LSTM: each of the four gates is a small MLP instead of one affine map,

    gate_k = act_k(W2_k relu(W1_k [x; h] + b1_k) + b2_k),   k in (i, f, c, o)

with sigmoid for i, f, o and tanh for the cell update; the hidden layer width is a flag. (The
paper's hidden-layer activation is taken to be ReLU here.) The four first layers are one
[D + H, 4M] matrix, the four second layers one [4, M, H] tensor.

Grow-and-prune: every matrix of the chosen variables carries a mask ("w != 0", kept zero in the
compiled step by the freeze constraint of `common.pruning`, as SET does). Growth activates the
dormant connections with the largest loss-gradient magnitude (measured on a few batches) and
starts them at one gradient step, -lr * grad; pruning zeroes the smallest-magnitude live weights
down to a target density. `GrowAndPrune` runs a schedule of such steps between epochs.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from common.groups import find_variables
from common.layers import ScannedRNN, nth_draw
from common.loop import reset_rnn_states
from common.pruning import hold_zeros_in_every_step


@keras.saving.register_keras_serializable(package="iss_rnns")
class HLSTM(ScannedRNN):
    """H-LSTM layer [B, T, D] -> [B, T, H]; stateful=True carries (h, c) across calls."""

    state_count = 2  # h, c

    def __init__(self, units: int, gate_hidden: int, stateful: bool = False, kernel_initializer="glorot_uniform",
                 **kwargs):
        if units < 1 or gate_hidden < 1:
            raise ValueError(f"HLSTM needs units >= 1 and gate_hidden >= 1, got {units}, {gate_hidden}")
        super().__init__(units, stateful=stateful, **kwargs)
        self.gate_hidden = int(gate_hidden)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        d, h, m = int(input_shape[-1]), self.units, self.gate_hidden
        init = self.kernel_initializer
        self.hidden_kernel = self.add_weight(shape=(d + h, 4 * m), initializer=init, name="hidden_kernel")
        self.hidden_bias = self.add_weight(shape=(4 * m,), initializer="zeros", name="hidden_bias")
        self.gate_kernel = self.add_weight(shape=(4, m, h), initializer=nth_draw(init, 1), name="gate_kernel")
        self.gate_bias = self.add_weight(shape=(4, h), initializer="zeros", name="gate_bias")
        self._build_states(input_shape)

    def call(self, inputs, training=False):
        m = self.gate_hidden
        d = ops.shape(inputs)[-1]
        x_kernel, h_kernel = self.hidden_kernel[:d], self.hidden_kernel[d:]
        x_part = ops.einsum("btd,de->bte", inputs, x_kernel) + self.hidden_bias
        gate_kernel, gate_bias = self.gate_kernel, self.gate_bias

        def step(states, x_t):
            h, c = states
            hidden = ops.relu(x_t + ops.matmul(h, h_kernel))  # [B, 4M]
            hidden = ops.reshape(hidden, (-1, 4, m))
            pre = ops.einsum("bkm,kmh->bkh", hidden, gate_kernel) + gate_bias  # [B, 4, H]
            i, f, g, o = ops.sigmoid(pre[:, 0]), ops.sigmoid(pre[:, 1]), ops.tanh(pre[:, 2]), ops.sigmoid(pre[:, 3])
            c = f * c + i * g
            h = o * ops.tanh(c)
            return [h, c]

        return self._scan(step, ops.transpose(x_part, (1, 0, 2)), ops.shape(inputs)[0], inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(gate_hidden=self.gate_hidden,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config


def weight_gradients(model, batches, paths) -> dict[str, np.ndarray]:
    """Mean gradient of the model's compiled loss w.r.t. the given variables, over (x, y) batches.

    Computed on the raw weights (masks do not block it), so dormant connections get one too.
    """
    variables = find_variables(model, paths)
    totals = {p: 0.0 for p in paths}
    backend = keras.backend.backend()
    for x, y in batches:
        if backend == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False), training=False)
            grads = tape.gradient(loss, [variables[p].value for p in paths])
        elif backend == "jax":
            import jax

            trainable = [v.value for v in model.trainable_variables]
            non_trainable = [v.value for v in model.non_trainable_variables]
            index = {id(v): i for i, v in enumerate(model.trainable_variables)}

            def loss_of(train_values):
                y_pred, _ = model.stateless_call(train_values, non_trainable, x, training=False)
                return model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)

            all_grads = jax.grad(loss_of)(trainable)
            grads = [all_grads[index[id(variables[p])]] for p in paths]
        else:
            raise NotImplementedError(f"weight_gradients supports the tensorflow and jax backends, not {backend}")
        for p, g in zip(paths, grads):
            totals[p] = totals[p] + np.asarray(g)
    return {p: t / max(len(batches), 1) for p, t in totals.items()}


def grow(w: np.ndarray, grad: np.ndarray, count: int, learning_rate: float) -> np.ndarray:
    """Activate the `count` dormant (zero) connections with the largest |grad|, at -learning_rate * grad."""
    flat, g = w.ravel().copy(), grad.ravel()
    dormant = np.flatnonzero(flat == 0)
    count = min(count, dormant.size)
    if count == 0:
        return w
    chosen = dormant[np.argsort(-np.abs(g[dormant]), kind="stable")[:count]]
    values = -learning_rate * g[chosen]
    values[values == 0] = np.finfo(w.dtype).tiny  # a grown connection must be non-zero to count as live
    flat[chosen] = values
    return flat.reshape(w.shape).astype(w.dtype)


def prune_to_density(w: np.ndarray, density: float) -> np.ndarray:
    """Zero the smallest-magnitude weights so that at most `density` of the entries stay non-zero."""
    flat = w.ravel().copy()
    keep = int(np.floor(density * flat.size))
    live = np.flatnonzero(flat)
    if live.size <= keep:
        return w
    drop = live[np.argsort(np.abs(flat[live]), kind="stable")[: live.size - keep]]
    flat[drop] = 0
    return flat.reshape(w.shape).astype(w.dtype)


class GrowAndPrune(keras.callbacks.Callback):
    """Between epochs: grow for the first `grow_epochs` epochs, then prune towards `target_density`.

    Growth adds `grow_fraction` x (current live count) connections per matrix; pruning reaches the
    target in `prune_epochs` equal steps. The masks then stay fixed (retraining). The zeros are held
    in every step from the weights themselves (`hold_zeros_in_every_step`), so the train step is
    compiled once for the whole schedule.
    """

    def __init__(self, paths, batches, grow_epochs: int, grow_fraction: float, prune_epochs: int,
                 target_density: float, learning_rate: float):
        super().__init__()
        self.paths, self.batches = list(paths), batches
        self.grow_epochs, self.grow_fraction = grow_epochs, grow_fraction
        self.prune_epochs, self.target_density = prune_epochs, target_density
        self.learning_rate = learning_rate

    def on_train_begin(self, logs=None):
        hold_zeros_in_every_step(self.model, self.paths)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            return
        variables = find_variables(self.model, self.paths)
        step = epoch  # changes happen before epochs 1 .. grow_epochs, then the pruning ones
        if step <= self.grow_epochs:
            grads = weight_gradients(self.model, self.batches, self.paths)
            reset_rnn_states(self.model)  # the measurement ran the model: start the epoch from zero state again
            for p, v in variables.items():
                w = v.numpy()
                v.assign(grow(w, grads[p], int(self.grow_fraction * np.count_nonzero(w)), self.learning_rate))
        elif step <= self.grow_epochs + self.prune_epochs:
            remaining = self.grow_epochs + self.prune_epochs - step + 1  # pruning steps left, this one included
            for p, v in variables.items():
                w = v.numpy()
                current = np.count_nonzero(w) / w.size
                density = max(self.target_density, current - (current - self.target_density) / remaining)
                v.assign(prune_to_density(w, density))
