"""One PTB run: train (or resume), evaluate, report. Plain arguments; flags live in train.py.

save_path holds config.json (the resolved config and command), checkpoint/ (every epoch),
log.csv, tensorboard/, results.json and, on request, weights.png.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time

import keras
import numpy as np
from absl import logging

import common
from common import loop
from common.metrics import TokenCrossEntropy, perplexity
from ptb.config import PTBConfig
from ptb.evaluation import PerplexityEvaluator
from ptb.model import (
    attach_thresholds, build_language_model, build_training_model, iss_groups, make_optimizer,
    sequence_cross_entropy,
)
from ptb.reader import batch_windows, load_ptb

CONFIG_FILE = "config.json"


class RestoreError(ValueError):
    """A restore/save path that does not fit this run; the message says why."""


def device_description() -> str:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        d = jax.devices()[0]
        return f"{d.platform}: {getattr(d, 'device_kind', d)}"
    return f"cpu: {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def read_run_config(run_path: str) -> tuple[PTBConfig, dict]:
    path = os.path.join(run_path, CONFIG_FILE)
    if not os.path.isfile(path):
        raise RestoreError(f"no {CONFIG_FILE} in {run_path}: not a ptb.train save_path")
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    fields = dict(saved["config"])
    for key in ("hidden_sizes", "group_lasso_multipliers"):
        fields[key] = tuple(fields[key])
    fields["row_col_multipliers"] = tuple(tuple(r) for r in fields["row_col_multipliers"])
    return PTBConfig(**fields), saved


def load_weights_into(model, run_path: str) -> dict:
    found = loop.latest_checkpoint(run_path)
    if found is None:
        raise RestoreError(f"no complete checkpoint in {run_path}")
    state, weights = found
    try:
        model.load_weights(weights)
    except ValueError as e:
        raise RestoreError(f"checkpoint in {run_path} does not fit this model's architecture: {e}") from None
    return state


def compact_summary(model, groups) -> tuple[list[int], int]:
    """Live ISS units per layer and the trainable weight count of the extracted compact model."""
    values = common.stats.model_values(model)
    kept = common.kept_components(groups, values)
    compact = common.compact_weights(values, groups, kept)
    trainable = {v.path for v in model.trainable_weights}
    return [len(kept[g.name]) for g in groups], int(sum(compact[p].size for p in trainable))


def _callbacks(model, groups, config, save_path, evaluate_valid, tokens, state_offset, resuming):
    def epoch_metrics(m):
        # "val_" prefix: Keras' CSVLogger then adds no empty val_* columns of its own
        return {"val_ppl": evaluate_valid(m), "penalty": m.penalty_value()}

    fields = {
        "lr": ("lr", "%.4g"), "train_ppl": ("train ppl", "%.2f"), "penalty": ("reg", "%.4f"),
        "wps": ("wps", "%.0f"), "val_ppl": ("valid ppl", "%.2f"),
    }
    fields.update({f"live/{g.name}": (f"live {g.name}", "%d") for g in groups})
    callbacks = [
        loop.ResetStatesEachEpoch(),
        loop.LearningRatePerEpoch(config.learning_rate_at),
        loop.WordsPerSecond(tokens),
        _TrainPerplexity(),
        loop.StopOnNonFiniteLoss(("loss", "xent", "train_ppl")),  # ppl overflows first: mean CE > 709 nats
        loop.EvaluateEachEpoch(epoch_metrics),
        common.SparsityLogger(groups, csv_path=os.path.join(save_path, "sparsity.csv")),
        loop.EpochLog(fields, config.max_max_epoch),
        keras.callbacks.CSVLogger(os.path.join(save_path, "log.csv"), append=resuming),
    ]
    try:
        import tensorflow  # noqa: F401  (TensorBoard's writer needs it; absent on the JAX GPU image)

        callbacks.append(keras.callbacks.TensorBoard(os.path.join(save_path, "tensorboard")))
    except ImportError:
        logging.info("tensorflow is not importable: TensorBoard logs skipped (log.csv has everything)")
    callbacks.append(loop.EpochCheckpoint(save_path, state_offset))
    return callbacks


class _TrainPerplexity(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "xent" in logs:
            logs["train_ppl"] = perplexity(logs["xent"])


def train(config: PTBConfig, data_path: str, save_path: str, restore_path: str | None = None,
          seed: int | None = None, display_weights: bool = False, verbose: int = 2,
          command: str = "", model_name: str = "") -> dict:
    """Train (resuming from save_path's checkpoint if there is one) and return results.json."""
    keras.utils.set_random_seed(0 if seed is None else seed)
    data, vocab = load_ptb(data_path)
    V = len(vocab)
    os.makedirs(save_path, exist_ok=True)
    x, y, _ = batch_windows(data["train"], config.batch_size, config.num_steps)

    model, groups = build_training_model(config, V, seed)
    model.compile(optimizer=make_optimizer(config), loss=sequence_cross_entropy,
                  metrics=[TokenCrossEntropy()])

    resumed = loop.latest_checkpoint(save_path)
    initial_epoch, wall_before = 0, 0.0
    if resumed:
        saved_config, saved = read_run_config(save_path)
        extended = dataclasses.replace(saved_config, max_max_epoch=config.max_max_epoch)  # more epochs is fine
        if extended != config or saved.get("vocab_size") != V:
            raise RestoreError(
                f"{save_path} holds a run with a different config or data; resume with the same "
                "flags, or choose another --save_path"
            )
        state = load_weights_into(model, save_path)
        initial_epoch, wall_before = state["epoch"], state.get("wall_s", 0.0)
        logging.info("Resuming from %s after epoch %d", save_path, initial_epoch)
    elif restore_path:
        restored_config, _ = read_run_config(restore_path)
        if restored_config.lstm_sizes != config.lstm_sizes or restored_config.hidden_size != config.hidden_size:
            raise RestoreError(
                f"{restore_path} has LSTM sizes {restored_config.lstm_sizes} (embedding "
                f"{restored_config.hidden_size}); this run builds {config.lstm_sizes} ({config.hidden_size})"
            )
        load_weights_into(model, restore_path)
        logging.info("Restored weights from %s", restore_path)
    attach_thresholds(model, config)  # after restoring, so freeze mode keeps the restored zeros

    loop.write_json({"config": config.to_json(), "model": model_name, "command": command, "vocab_size": V,
                     "backend": keras.backend.backend()}, os.path.join(save_path, CONFIG_FILE))

    valid_eval = PerplexityEvaluator(config, V, config.batch_size, config.num_steps)
    start = time.perf_counter()
    state_fn = lambda epoch, logs: {"wall_s": wall_before + time.perf_counter() - start}  # noqa: E731
    callbacks = _callbacks(model, groups, config, save_path, lambda m: valid_eval.perplexity(m, data["valid"]),
                           x.size, state_fn, bool(resumed))
    logging.info("Training %s: LSTM sizes %s, %d windows of %d x %d per epoch, %d epochs",
                 model_name or "model", config.lstm_sizes, len(x) // config.batch_size,
                 config.batch_size, config.num_steps, config.max_max_epoch)
    if initial_epoch < config.max_max_epoch:
        model.fit(x, y, batch_size=config.batch_size, epochs=config.max_max_epoch, initial_epoch=initial_epoch,
                  shuffle=False, verbose=verbose, callbacks=callbacks)
    wall_s = wall_before + time.perf_counter() - start

    valid_ppl = valid_eval.perplexity(model, data["valid"])
    test_ppl = PerplexityEvaluator(config, V, 1, config.num_steps).perplexity(model, data["test"])
    hidden, weights = compact_summary(model, groups)
    results = {
        "task": "ptb", "model": model_name, "backend": keras.backend.backend(), "device": device_description(),
        "epochs": config.max_max_epoch, "valid_ppl": valid_ppl, "test_ppl": test_ppl,
        "hidden_sizes": hidden, "weights": weights, "wall_s": wall_s, "config": config.to_json(),
        "command": command,
    }
    loop.write_json(results, os.path.join(save_path, "results.json"))
    if display_weights:
        common.plot_weight_sparsity(model, groups, os.path.join(save_path, "weights.png"))
    logging.info("Valid Perplexity: %.3f", valid_ppl)
    logging.info("Live ISS components per layer: %s; compact model weights: %d", hidden, weights)
    print(f"Test Perplexity: {test_ppl:.3f}")
    return results


def restore_model(run_path: str, batch_size: int | None = None, num_steps: int | None = None):
    """(plain Keras model with the run's final weights, its config, its ISS groups)."""
    config, saved = read_run_config(run_path)
    eval_config = dataclasses.replace(config, keep_prob=1.0)
    model = build_language_model(eval_config, saved["vocab_size"], batch_size or config.batch_size,
                                 num_steps or config.num_steps)
    load_weights_into(model, run_path)
    return model, config, iss_groups(model, config), saved


def evaluate_run(run_path: str, data_path: str) -> dict:
    config, saved = read_run_config(run_path)
    data, vocab = load_ptb(data_path)
    if len(vocab) != saved["vocab_size"]:
        raise RestoreError(f"{data_path} has {len(vocab)} words, the run in {run_path} was trained on {saved['vocab_size']}")
    model, _, _, _ = restore_model(run_path)
    valid = PerplexityEvaluator(config, len(vocab), config.batch_size, config.num_steps).perplexity(model, data["valid"])
    test = PerplexityEvaluator(config, len(vocab), 1, config.num_steps).perplexity(model, data["test"])
    return {"valid_ppl": valid, "test_ppl": test}


def extract_run(run_path: str, output: str) -> dict:
    """Write the compact dense model of a run: a ptb run folder (config.json + checkpoint) and model.keras."""
    model, config, groups, saved = restore_model(run_path)
    compact, report = common.extract_compact_model(model, groups)
    sizes = tuple(len(report[g.name]["kept"]) for g in groups)
    compact_config = dataclasses.replace(config, hidden_sizes=sizes, group_lasso=0.0, weight_decay=0.0,
                                         row_col_lasso=0.0, group_lasso_multipliers=(), row_col_multipliers=(),
                                         freeze_mode="")
    os.makedirs(output, exist_ok=True)
    loop.save_checkpoint(compact, output, {"epoch": config.max_max_epoch, "extracted_from": os.path.abspath(run_path)})
    loop.write_json({**saved, "config": compact_config.to_json(), "extracted_from": os.path.abspath(run_path)},
                    os.path.join(output, CONFIG_FILE))
    compact.save(os.path.join(output, "model.keras"))
    np.savez(os.path.join(output, "kept_units.npz"), **{g.name: np.asarray(report[g.name]["kept"]) for g in groups})
    return {"hidden_sizes": list(sizes), "weights": common.count_weights(compact),
            "sparse_weights": common.count_weights(model)}
