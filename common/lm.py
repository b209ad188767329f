"""Word-level language modelling pieces that the PTB tasks (stacked LSTM, RHN) share.

The token stream is cut into `batch_size` parallel streams read in windows of `num_steps`, with
the recurrent state carried from window to window (Zaremba et al.; Zilly et al. do the same).
The training loss is the cross-entropy summed over a window's steps and averaged over the batch,
the scale that the references' learning rates, clipping norms and penalty strengths assume.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from common.errors import DataError
from common.loop import reset_rnn_states
from common.metrics import TokenCrossEntropy, perplexity


def uniform_initializer(scale: float, seed: int | None) -> keras.initializers.Initializer:
    """uniform(-scale, scale) that draws new values at every call, reproducibly from `seed`.

    The references (TF1) draw every variable afresh from one uniform initializer. A Keras initializer
    seeded with an integer, or unseeded, returns the same values at every call, so sharing it would
    start every weight matrix of one shape from the same numbers (and a [V, D] embedding and a
    [D, V] softmax from one flat sequence); a SeedGenerator seed advances at every call instead.
    """
    return keras.initializers.RandomUniform(-scale, scale, seed=keras.random.SeedGenerator(seed))


def batch_windows(ids: np.ndarray, batch_size: int, num_steps: int, pad: bool = False):
    """Inputs, targets and weights [num_windows * batch_size, num_steps] in stateful order.

    Window i of every stream is one batch, so row j of batch i+1 continues row j of batch i.
    Without `pad`, the tail that does not fill a window is dropped (as the references do for
    training). With `pad`, the last window is padded and its padding gets weight 0, so every
    token of the stream is scored exactly once (used for evaluation).
    """
    if batch_size < 1 or num_steps < 1:
        raise ValueError(f"batch_size and num_steps must be >= 1, got {batch_size}, {num_steps}")
    batch_len = len(ids) // batch_size
    if batch_len < 2:
        raise DataError(f"{len(ids)} tokens are too few for batch_size {batch_size}")
    streams = ids[: batch_size * batch_len].reshape(batch_size, batch_len)
    inputs, targets = streams[:, :-1], streams[:, 1:]
    n = batch_len - 1
    windows = -(-n // num_steps) if pad else n // num_steps
    if windows == 0:
        raise DataError(f"{len(ids)} tokens are too few for batch_size {batch_size} x num_steps {num_steps}")
    width = windows * num_steps
    weights = np.zeros((batch_size, width), np.float32)
    weights[:, : min(n, width)] = 1.0
    if width > n:
        inputs = np.pad(inputs, ((0, 0), (0, width - n)))
        targets = np.pad(targets, ((0, 0), (0, width - n)))

    def stack(a):  # [B, W*T] -> [W*B, T], window-major
        return a[:, :width].reshape(batch_size, windows, num_steps).transpose(1, 0, 2).reshape(-1, num_steps)

    return stack(inputs), stack(targets), stack(weights)


def sequence_cross_entropy(y_true, y_pred):
    """Cross-entropy summed over the window's steps, per sequence (Keras then averages the batch).

    The references minimize this sum, not the per-token mean: their learning rates, clipping
    norms and penalty strengths are all relative to that scale (num_steps times the mean).
    """
    per_token = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return ops.sum(per_token, axis=-1)


def copy_trainable_weights(source, target) -> None:
    src, dst = list(source.trainable_weights), list(target.trainable_weights)
    if len(src) != len(dst) or any(tuple(a.shape) != tuple(b.shape) for a, b in zip(src, dst)):
        raise ValueError(
            f"weights of {source.name!r} do not fit {target.name!r}: "
            f"{[tuple(a.shape) for a in src]} vs {[tuple(b.shape) for b in dst]}"
        )
    for a, b in zip(src, dst):
        b.assign(a.numpy())  # a copy: on JAX, sharing the buffer lets the next step donate (delete) it


def window_perplexity(predict, ids, batch_size: int, num_steps: int) -> float:
    """exp(mean token cross-entropy) of `predict` (tokens [B, T] -> logits) over ids, each window from a zero state."""
    x, y, w = batch_windows(ids, batch_size, num_steps, pad=True)
    total = 0.0
    for i in range(0, len(x), batch_size):
        logits = np.asarray(predict(x[i : i + batch_size]), np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        total -= (np.take_along_axis(log_probs, y[i : i + batch_size, :, None], axis=-1)[..., 0] * w[i : i + batch_size]).sum()
    return float(np.exp(total / w.sum()))


class PerplexityEvaluator:
    """Perplexity of a token stream, with the state carried throughout.

    `build_model(batch_size, num_steps)` gives a stateful model with dropout off; it is built once
    for the layout and reads the stream in windows, the last one padded and the padding weighted
    0, so every token is scored exactly once. With batch 1 and the state carried, the window
    length does not change the result: batch 1 x num_steps equals the references' batch 1 x 1
    step, and runs num_steps times fewer Python steps.
    """

    def __init__(self, build_model, batch_size: int, num_steps: int):
        self.batch_size, self.num_steps = batch_size, num_steps
        self.model = build_model(batch_size, num_steps)
        self.model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            weighted_metrics=[TokenCrossEntropy()],  # only weighted_metrics receive sample_weight
        )

    def perplexity(self, weights_from, ids) -> float:
        copy_trainable_weights(weights_from, self.model)
        x, y, w = batch_windows(ids, self.batch_size, self.num_steps, pad=True)
        reset_rnn_states(self.model)
        result = self.model.evaluate(x, y, sample_weight=w, batch_size=self.batch_size, verbose=0, return_dict=True)
        return perplexity(result["xent"])


class TrainPerplexity(keras.callbacks.Callback):
    """Adds `train_ppl` = exp(mean token cross-entropy of the epoch) to the logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "xent" in logs:
            logs["train_ppl"] = perplexity(logs["xent"])
