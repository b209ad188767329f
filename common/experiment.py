"""One language-model run in a folder: train (or resume), evaluate, extract. Shared by ptb and rhns.

A task describes itself with a `LanguageModelTask` (how to build its model, groups, penalty and
optimizer from its config); everything about the run folder is here, once:

    save_path/config.json      the resolved config, the command, the vocabulary size, the backend
    save_path/checkpoint/      weights + state after every finished epoch (a killed run resumes)
    save_path/log.csv          one row per epoch (lr, train/valid perplexity, penalty, wps, live units)
    save_path/sparsity.csv     per-variable zero fractions per epoch
    save_path/tensorboard/     the same as TensorBoard events (when TensorFlow is importable)
    save_path/results.json     the final numbers (same keys for every task)
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from typing import Callable

import keras
import numpy as np
from absl import logging

from common import loop
from common.errors import ConfigError
from common.extraction import assign_by_path, compact_weights, count_weights, kept_components
from common.lm import PerplexityEvaluator, TrainPerplexity, batch_windows, sequence_cross_entropy
from common.metrics import TokenCrossEntropy
from common.plotting import plot_weight_sparsity
from common.stats import SparsityLogger, model_values
from common.training import SparseModel

CONFIG_FILE = "config.json"


class RestoreError(ValueError):
    """A restore/save path that does not fit this run; the message says why."""


@dataclasses.dataclass(frozen=True)
class LanguageModelTask:
    """What a word-level language-model task plugs into the shared run logic.

    Its config is a frozen dataclass with batch_size, num_steps, max_max_epoch,
    learning_rate_at(epoch), to_json() and a from_json(dict) classmethod.
    """

    name: str  # "ptb", "rhn": results.json's "task" and the model names
    config_type: type
    load_data: Callable  # data_path -> ({"train": ids, "valid": ids, "test": ids}, vocabulary)
    build_model: Callable  # (config, vocab_size, batch_size, num_steps, seed) -> stateful keras.Model
    inference_config: Callable  # config -> the same config with dropout off
    iss_groups: Callable  # (model, config) -> list of ISSGroup
    penalty: Callable  # (model, groups, config) -> SparsityPenalty
    make_optimizer: Callable  # config -> keras optimizer
    attach_thresholds: Callable  # (model, config) -> None: zero threshold / freezing, when on
    architecture: Callable  # config -> a readable description; equal descriptions = loadable weights
    compact_config: Callable  # (config, live widths per group) -> config of the extracted dense model
    epoch_callbacks: Callable = lambda model, config, seed, x, y: []  # method-specific (SET, grow-and-prune)
    structure: Callable = lambda model, config: {}  # method-specific structure report for results.json

    def evaluator(self, config, vocab_size: int, batch_size: int, num_steps: int) -> PerplexityEvaluator:
        plain = self.inference_config(config)
        return PerplexityEvaluator(
            lambda b, t: self.build_model(plain, vocab_size, b, t, None), batch_size, num_steps)

    def training_model(self, config, vocab_size: int, seed: int | None = None):
        """The stateful training model with the penalty in its loss; (model, groups)."""
        plain = self.build_model(config, vocab_size, config.batch_size, config.num_steps, seed)
        groups = self.iss_groups(plain, config)
        model = SparseModel(inputs=plain.inputs, outputs=plain.outputs, penalty=self.penalty(plain, groups, config),
                            iss_groups=groups, name=plain.name)
        return model, groups


def device_description() -> str:
    if keras.backend.backend() == "jax":
        import jax

        d = jax.devices()[0]
        if d.platform != "cpu":
            return f"{d.platform}: {getattr(d, 'device_kind', d)}"
    return f"cpu: {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def read_run_config(task: LanguageModelTask, run_path: str):
    """(config, the whole config.json) of a run folder."""
    path = os.path.join(run_path, CONFIG_FILE)
    if not os.path.isfile(path):
        raise RestoreError(f"no {CONFIG_FILE} in {run_path}: not a {task.name} run folder")
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    if saved.get("task", task.name) != task.name:
        raise RestoreError(f"{run_path} holds a {saved['task']} run, not a {task.name} run")
    return task.config_type.from_json(saved["config"]), saved


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


def compact_values(model, groups, allow_empty: bool = False):
    """(live width per group, the weights of the extracted dense model by path, kept indices)."""
    values = model_values(model)
    kept = kept_components(groups, values, allow_empty)
    return [len(kept[g.name]) for g in groups], compact_weights(values, groups, kept), kept


def compact_summary(model, groups) -> tuple[list[int], int]:
    """Live ISS units per group and the trainable weight count of the extracted compact model."""
    widths, values, _ = compact_values(model, groups, allow_empty=True)
    trainable = {v.path for v in model.trainable_weights}
    return widths, int(sum(values[p].size for p in trainable))


def nonzero_weights(model) -> int:
    """Trainable weights that are not exactly zero (the parameter count of unstructured sparsity)."""
    return int(sum(np.count_nonzero(v.numpy()) for v in model.trainable_weights))


def _callbacks(task, model, groups, config, save_path, evaluate_valid, train_xy, state_fn, resuming, seed):
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
        loop.WordsPerSecond(train_xy[0].size),
        TrainPerplexity(),
        loop.StopOnNonFiniteLoss(("loss", "xent", "train_ppl")),  # ppl overflows first: mean CE > 709 nats
        loop.EvaluateEachEpoch(epoch_metrics),
        SparsityLogger(groups, csv_path=os.path.join(save_path, "sparsity.csv")),
        loop.EpochLog(fields, config.max_max_epoch),
        keras.callbacks.CSVLogger(os.path.join(save_path, "log.csv"), append=resuming),
        *task.epoch_callbacks(model, config, seed, *train_xy),  # e.g. SET's prune-and-regrow between epochs
    ]
    callbacks += loop.tensorboard_if_available(os.path.join(save_path, "tensorboard"))
    callbacks.append(loop.EpochCheckpoint(save_path, state_fn))
    return callbacks


def resume(task, model, config, save_path: str, vocab_size: int | None = None) -> tuple[int, float]:
    """Load save_path's last checkpoint (weights, optimizer, RNG) into model; (finished epochs, wall seconds so far).

    Only the number of epochs may differ from the saved run's config (a longer run continues it).
    """
    saved_config, saved = read_run_config(task, save_path)
    extended = dataclasses.replace(saved_config, max_max_epoch=config.max_max_epoch)
    if extended != config or (vocab_size is not None and saved.get("vocab_size") != vocab_size):
        raise RestoreError(
            f"{save_path} holds a run with a different config or data; resume with the same "
            "flags, or choose another --save_path"
        )
    state = load_weights_into(model, save_path)
    loop.restore_loop_state(model, save_path)
    logging.info("Resuming from %s after epoch %d", save_path, state["epoch"])
    return state["epoch"], state.get("wall_s", 0.0)


def data_parallel(batch_size: int):
    """Set Keras' DataParallel distribution over every local device (JAX backend); returns the device count.

    The compiled step then sees the whole batch, sharded along its first axis: the maths, the
    carried RNN state included, are those of one device.
    """
    if keras.backend.backend() != "jax":
        raise ConfigError(
            "--distribute needs the JAX backend (KERAS_BACKEND=jax): TensorFlow's MirroredStrategy gives each "
            "replica its own slice of the batch, which the carried state of these stateful models cannot follow"
        )
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        raise ConfigError(f"--distribute: batch size {batch_size} does not split over {len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return len(devices)


def train(task: LanguageModelTask, config, data_path: str, save_path: str, restore_path: str | None = None,
          seed: int | None = None, display_weights: bool = False, verbose: int = 2, command: str = "",
          model_name: str = "", distribute: bool = False) -> dict:
    """Train (resuming from save_path's checkpoint if there is one) and return results.json.

    restore_path: start from another run's final weights (fine-tuning); a checkpoint in
    save_path takes precedence (resume). distribute: data-parallel over every local device.
    """
    keras.utils.set_random_seed(0 if seed is None else seed)
    devices = data_parallel(config.batch_size) if distribute else 1
    data, vocab = task.load_data(data_path)
    vocab_size = len(vocab)
    os.makedirs(save_path, exist_ok=True)
    x, y, _ = batch_windows(data["train"], config.batch_size, config.num_steps)

    model, groups = task.training_model(config, vocab_size, seed)
    model.compile(optimizer=task.make_optimizer(config), loss=sequence_cross_entropy, metrics=[TokenCrossEntropy()])

    resumed = loop.latest_checkpoint(save_path)
    initial_epoch, wall_before = 0, 0.0
    if resumed:
        initial_epoch, wall_before = resume(task, model, config, save_path, vocab_size)
    elif restore_path:
        restored_config, _ = read_run_config(task, restore_path)
        if task.architecture(restored_config) != task.architecture(config):
            raise RestoreError(
                f"{restore_path} has {task.architecture(restored_config)}; this run builds {task.architecture(config)}"
            )
        load_weights_into(model, restore_path)
        logging.info("Restored weights from %s", restore_path)
    task.attach_thresholds(model, config)  # after restoring, so freeze mode keeps the restored zeros

    loop.write_json({"task": task.name, "config": config.to_json(), "model": model_name, "command": command,
                     "vocab_size": vocab_size, "backend": keras.backend.backend()},
                    os.path.join(save_path, CONFIG_FILE))

    valid_eval = task.evaluator(config, vocab_size, config.batch_size, config.num_steps)
    start = time.perf_counter()
    state_fn = lambda epoch, logs: {"wall_s": wall_before + time.perf_counter() - start}  # noqa: E731
    callbacks = _callbacks(task, model, groups, config, save_path, lambda m: valid_eval.perplexity(m, data["valid"]),
                           (x, y), state_fn, bool(resumed), 0 if seed is None else seed)
    logging.info("Training %s: %s, %d windows of %d x %d per epoch, %d epochs", model_name or task.name,
                 task.architecture(config), len(x) // config.batch_size, config.batch_size, config.num_steps,
                 config.max_max_epoch)
    if initial_epoch < config.max_max_epoch:
        model.fit(x, y, batch_size=config.batch_size, epochs=config.max_max_epoch, initial_epoch=initial_epoch,
                  shuffle=False, verbose=verbose, callbacks=callbacks)
    wall_s = wall_before + time.perf_counter() - start

    valid_ppl = valid_eval.perplexity(model, data["valid"])
    if distribute:
        keras.distribution.set_distribution(None)  # batch 1 does not split: the test pass runs on one device
    test_ppl = task.evaluator(config, vocab_size, 1, config.num_steps).perplexity(model, data["test"])
    hidden, weights = compact_summary(model, groups)
    results = {
        "task": task.name, "model": model_name, "backend": keras.backend.backend(), "device": device_description(),
        "epochs": config.max_max_epoch, "valid_ppl": valid_ppl, "test_ppl": test_ppl,
        "hidden_sizes": hidden, "weights": weights, "nonzero_weights": nonzero_weights(model),
        "wall_s": wall_s, "devices": devices, "config": config.to_json(), "command": command,
    }
    report = task.structure(model, config)
    if report:
        results["structure"] = report
    loop.write_json(results, os.path.join(save_path, "results.json"))
    if display_weights:
        plot_weight_sparsity(model, groups, os.path.join(save_path, "weights.png"))
    logging.info("Valid Perplexity: %.3f", valid_ppl)
    logging.info("Live ISS components per group: %s; compact model weights: %d", hidden, weights)
    print(f"Test Perplexity: {test_ppl:.3f}")
    return results


def restore_model(task: LanguageModelTask, run_path: str, batch_size: int | None = None,
                  num_steps: int | None = None):
    """(stateful model with the run's final weights and dropout off, its config, its ISS groups, config.json)."""
    config, saved = read_run_config(task, run_path)
    model = task.build_model(task.inference_config(config), saved["vocab_size"], batch_size or config.batch_size,
                             num_steps or config.num_steps, None)
    load_weights_into(model, run_path)
    return model, config, task.iss_groups(model, config), saved


def evaluate_run(task: LanguageModelTask, run_path: str, data_path: str) -> dict:
    config, saved = read_run_config(task, run_path)
    data, vocab = task.load_data(data_path)
    vocab_size = len(vocab)
    if vocab_size != saved["vocab_size"]:
        raise RestoreError(f"{data_path} has {vocab_size} words, the run in {run_path} was trained on {saved['vocab_size']}")
    model, _, _, _ = restore_model(task, run_path)
    valid = task.evaluator(config, vocab_size, config.batch_size, config.num_steps).perplexity(model, data["valid"])
    test = task.evaluator(config, vocab_size, 1, config.num_steps).perplexity(model, data["test"])
    return {"valid_ppl": valid, "test_ppl": test}


def extract_run(task: LanguageModelTask, run_path: str, output: str) -> dict:
    """Write the compact dense model of a run: a run folder (config.json + checkpoint), model.keras, kept_units.npz.

    The compact model is the task's own model built at the live widths, with the surviving
    slices of every weight: the output folder is a run folder like any other (evaluate, restore).
    """
    model, config, groups, saved = restore_model(task, run_path)
    try:
        widths, values, kept = compact_values(model, groups)
    except ValueError as e:
        raise RestoreError(f"{run_path}: {e}") from None
    compact_config = task.compact_config(config, tuple(widths))
    compact = task.build_model(task.inference_config(compact_config), saved["vocab_size"], config.batch_size,
                               config.num_steps, None)
    assign_by_path(compact, values)
    os.makedirs(output, exist_ok=True)
    loop.save_checkpoint(compact, output, {"epoch": config.max_max_epoch, "extracted_from": os.path.abspath(run_path)})
    loop.write_json({**saved, "config": compact_config.to_json(), "extracted_from": os.path.abspath(run_path)},
                    os.path.join(output, CONFIG_FILE))
    compact.save(os.path.join(output, "model.keras"))
    np.savez(os.path.join(output, "kept_units.npz"), **{g.name: np.asarray(kept[g.name]) for g in groups})
    return {"hidden_sizes": widths, "weights": count_weights(compact), "sparse_weights": count_weights(model)}
