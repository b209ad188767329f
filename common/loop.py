"""Training-loop pieces shared by the tasks: epoch-level Keras callbacks and checkpoints.

Everything here runs once per epoch (per-batch Python callbacks force a device sync on JAX).
A checkpoint (weights, optimizer and RNG state, epoch) is written to a fresh folder and then
committed by renaming a pointer file over the old one, so a run killed mid-write keeps the
previous complete checkpoint; `common.run_folder.latest_checkpoint` finds it to resume.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time

import keras
import numpy as np
from absl import logging

from common.errors import NonFiniteLossError
from common.run_folder import CHECKPOINT_DIR, LATEST_FILE, LOOP_STATE_FILE, STATE_FILE, WEIGHTS_FILE, latest_dir


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


def build_before_fit(model, batch) -> None:
    """Create the optimizer's slots and the compiled losses' trackers before fit traces its step.

    Keras' TensorFlow trainer leaves them to the first trace of the train step unless a
    distribution strategy is set (its JAX trainer builds them first, as here). Variables made
    inside that trace make tf.function trace the whole step a second time: 7.8 s of a 34 s
    one-epoch run of the BiDAF test model (two outputs, so two loss trackers, and Adam's slots).
    `batch`: one batch as fit receives it, (inputs, targets[, sample weights]); only its shapes are read.
    """
    # Keras' own condition, inverted: with a distribution strategy, fit builds them itself
    if keras.backend.backend() == "tensorflow" and getattr(model, "_distribute_strategy", None) is None:
        model._symbolic_build(data_batch=batch)


class KeepTrainedWeights(keras.callbacks.Callback):
    """Undo the moving average that Keras' fit writes into the weights when it ends.

    With an optimizer's use_ema, fit's last act (before on_train_end) replaces every trainable
    weight by its average, so the weights as trained, and the exact zeros that pruning left in
    them, would be lost. This puts back the weights of the last finished epoch.
    """

    def on_epoch_end(self, epoch, logs=None):
        self.trained = [v.numpy() for v in self.model.trainable_variables]

    def on_train_end(self, logs=None):
        for v, w in zip(self.model.trainable_variables, getattr(self, "trained", ())):
            v.assign(w)


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


def _seed_states(model) -> list:
    """The random generators' state variables, in model order (their names are auto-numbered per process)."""
    return [v for v in model.non_trainable_variables if v.name == "seed_generator_state"]


def save_checkpoint(model, save_path: str, state: dict) -> str:
    """Weights, optimizer and RNG state, and loop state of a finished epoch, committed at once.

    The files go to a fresh folder checkpoint/<n>/; only then is checkpoint/latest.json (a
    write-then-rename) pointed at it and the older folders deleted. A kill at any moment leaves
    latest.json naming a complete checkpoint.
    """
    folder = os.path.join(save_path, CHECKPOINT_DIR)
    os.makedirs(folder, exist_ok=True)
    latest = latest_dir(folder)
    number = 1 + (int(os.path.basename(latest)) if latest and os.path.basename(latest).isdigit() else 0)
    target = os.path.join(folder, str(number))
    shutil.rmtree(target, ignore_errors=True)  # a half-written folder of a killed run
    os.makedirs(target)
    model.save_weights(os.path.join(target, WEIGHTS_FILE))
    arrays = {f"seed:{i}": v.numpy() for i, v in enumerate(_seed_states(model))}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        arrays.update({f"optimizer:{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
    with open(os.path.join(target, LOOP_STATE_FILE), "wb") as f:
        np.savez(f, **arrays)
    write_json(state, os.path.join(target, STATE_FILE))
    write_json({"checkpoint": str(number)}, os.path.join(folder, LATEST_FILE))  # the commit
    for name in os.listdir(folder):
        if name.isdigit() and name != str(number):
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
    return os.path.join(target, WEIGHTS_FILE)


def restore_loop_state(model, save_path: str) -> bool:
    """Put back the optimizer variables and RNG states of save_path's checkpoint; False if it has none."""
    latest = latest_dir(os.path.join(save_path, CHECKPOINT_DIR))
    path = os.path.join(latest or "", LOOP_STATE_FILE)
    if latest is None or not os.path.isfile(path):
        return False
    with np.load(path) as arrays:
        seeds = _seed_states(model)
        if sum(k.startswith("seed:") for k in arrays.files) == len(seeds):
            for i, v in enumerate(seeds):
                v.assign(arrays[f"seed:{i}"])
        saved = sorted((k for k in arrays.files if k.startswith("optimizer:")), key=lambda k: int(k.split(":")[1]))
        if saved and getattr(model, "optimizer", None) is not None:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            variables = model.optimizer.variables
            if len(variables) != len(saved):
                raise ValueError(f"{path} holds {len(saved)} optimizer variables, this optimizer has {len(variables)}")
            for v, k in zip(variables, saved):
                v.assign(arrays[k])
    return True


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


def tensorboard_if_available(log_dir: str) -> list:
    """[TensorBoard callback], or [] where TensorFlow (its event writer) is not importable, e.g. the JAX GPU image."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        logging.info("tensorflow is not importable: TensorBoard logs skipped (log.csv has everything)")
        return []
    return [keras.callbacks.TensorBoard(log_dir)]


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

