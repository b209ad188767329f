"""Training-loop pieces shared by the tasks: epoch-level Keras callbacks and checkpoints.

Everything here runs once per epoch (per-batch Python callbacks force a device sync on JAX).
Checkpoints are written to a temporary name and renamed, so a run killed mid-write keeps the
previous complete checkpoint; `latest_checkpoint` finds it to resume.
"""

from __future__ import annotations

import json
import math
import os
import time

import keras
import numpy as np
from absl import logging

CHECKPOINT_DIR = "checkpoint"
WEIGHTS_FILE = "weights.weights.h5"
STATE_FILE = "state.json"


def reset_rnn_states(model) -> None:
    """Zero the carried state of every stateful RNN in the model (start of an epoch / a pass)."""
    for layer in model.layers:
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
            layer.reset_state()


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """The reference resets the LSTM state at the start of every epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_rnn_states(self.model)


class LearningRatePerEpoch(keras.callbacks.Callback):
    """Sets the optimizer's learning rate from `schedule(epoch)` (0-based) and logs it as `lr`."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate.assign(self.schedule(epoch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self.schedule(epoch))


class WordsPerSecond(keras.callbacks.Callback):
    """Training throughput of each epoch, as `wps` (tokens per second, evaluation excluded)."""

    def __init__(self, tokens_per_epoch: int):
        super().__init__()
        self.tokens_per_epoch = tokens_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        if logs is not None:
            logs["wps"] = self.tokens_per_epoch / seconds
            logs["epoch_s"] = seconds


class EvaluateEachEpoch(keras.callbacks.Callback):
    """Adds `evaluate(model) -> dict` to the epoch's logs (e.g. validation perplexity)."""

    def __init__(self, evaluate):
        super().__init__()
        self.evaluate = evaluate

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.evaluate(self.model))


class NonFiniteLossError(RuntimeError):
    pass


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops with a clear error when the epoch's loss or any weight is NaN/inf, before a checkpoint is written.

    The weights are checked too: a diverging run can report a huge but finite mean loss while
    some weights already overflowed.
    """

    def __init__(self, keys=("loss",)):
        super().__init__()
        self.keys = tuple(keys)

    def on_epoch_end(self, epoch, logs=None):
        for key in self.keys:
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                self.model.stop_training = True
                raise NonFiniteLossError(
                    f"training {key} is {value} at epoch {epoch + 1} (diverged: lower the learning rate); "
                    "stopped, the last good checkpoint is kept"
                )
        for v in self.model.trainable_weights:
            if not np.isfinite(v.numpy()).all():
                self.model.stop_training = True
                raise NonFiniteLossError(
                    f"weights of {v.path} are not finite after epoch {epoch + 1} (diverged: lower the learning "
                    "rate); stopped, the last good checkpoint is kept"
                )


def write_json(data, path: str) -> None:
    """Write JSON to a temporary name and rename it, so readers never see half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def save_checkpoint(model, save_path: str, state: dict) -> str:
    """Weights and loop state of a finished epoch; each file replaced atomically, weights first."""
    folder = os.path.join(save_path, CHECKPOINT_DIR)
    os.makedirs(folder, exist_ok=True)
    weights = os.path.join(folder, WEIGHTS_FILE)
    tmp = os.path.join(folder, "incomplete." + WEIGHTS_FILE)
    model.save_weights(tmp)
    os.replace(tmp, weights)
    write_json(state, os.path.join(folder, STATE_FILE))
    return weights


def latest_checkpoint(save_path: str):
    """(state dict, weights path) of the last complete checkpoint in save_path, or None."""
    folder = os.path.join(save_path or "", CHECKPOINT_DIR)
    state_path = os.path.join(folder, STATE_FILE)
    weights = os.path.join(folder, WEIGHTS_FILE)
    if not (os.path.isfile(state_path) and os.path.isfile(weights)):
        return None
    with open(state_path, encoding="utf-8") as f:
        return json.load(f), weights


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves weights + {epoch, logs} after every epoch; `state_fn(epoch, logs)` may add fields."""

    def __init__(self, save_path: str, state_fn=None):
        super().__init__()
        self.save_path = save_path
        self.state_fn = state_fn

    def on_epoch_end(self, epoch, logs=None):
        state = {"epoch": epoch + 1, "logs": {k: float(v) for k, v in (logs or {}).items()}}
        if self.state_fn:
            state.update(self.state_fn(epoch, logs))
        save_checkpoint(self.model, self.save_path, state)


class EpochLog(keras.callbacks.Callback):
    """One absl log line per epoch with the chosen keys (`format` maps key -> printf format)."""

    def __init__(self, fields: dict, total_epochs: int):
        super().__init__()
        self.fields = fields
        self.total_epochs = total_epochs

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        parts = [f"{name} {fmt % logs[key]}" for key, (name, fmt) in self.fields.items() if key in logs]
        logging.info("Epoch %d/%d: %s", epoch + 1, self.total_epochs, ", ".join(parts))

