"""One language-model run in a folder: train (or resume), evaluate, extract. Shared by ptb and rhns.

A task describes itself with a `LanguageModelTask` (how to build its model, groups, penalty and
optimizer from its config); everything about the run folder is here, once:

    save_path/config.json      the resolved config, the command, the vocabulary size, the backend
    save_path/checkpoint/      weights + state after every finished epoch (a killed run resumes)
    save_path/log.csv          one row per epoch (lr, train/valid perplexity, penalty, wps, live units)
    save_path/sparsity.csv     per-variable zero fractions per epoch
    save_path/structure.csv    what a Bayesian model keeps at evaluation, per epoch (the task's structure report)
    save_path/tensorboard/     the same as TensorBoard events (when TensorFlow is importable)
    save_path/results.json     the final numbers (same keys for every task)

Reading config.json and finding the checkpoint need no Keras: `common.run_folder`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
import warnings
from typing import Callable

import keras
import numpy as np
from absl import logging

from common import loop
from common.distribute import Placement, data_parallel
from common.errors import ConfigError, RestoreError
from common.extraction import assign_by_path, compact_weights, count_weights, kept_components
from common.lm import PerplexityEvaluator, TrainPerplexity, batch_windows, sequence_cross_entropy
from common.metrics import TokenCrossEntropy
from common.plotting import plot_weight_sparsity
from common.run_folder import CONFIG_FILE, check_resumable, latest_checkpoint, read_run_config
from common.stats import SparsityLogger, append_csv_row, model_values
from common.training import SparseModel

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
    # (model, config) -> (weight values by path, groups, kept indices per group) to slice the dense model
    # from; None (or returning None): the ISS groups, a unit kept while its component has a non-zero
    extraction_plan: Callable | None = None
    epoch_callbacks: Callable = lambda model, config, seed, x, y: []  # method-specific (SET, grow-and-prune)
    # method-specific structure report for results.json; a "model" entry ({"weights": non-zeros at evaluation,
    # "weights_total": the deterministic model's weights}) replaces the counts of a model whose trainable
    # variables are not its weights (Bayesian: means, log sigmas and group variables)
    structure: Callable = lambda model, config: {}

    def evaluator(self, config, vocab_size: int, batch_size: int, num_steps: int) -> PerplexityEvaluator:
        plain = self.inference_config(config)
        return PerplexityEvaluator(
            lambda b, t: self.build_model(plain, vocab_size, b, t, None), batch_size, num_steps)

    def training_model(self, config, vocab_size: int, seed: int | None = None, batch_size: int | None = None):
        """The stateful training model with the penalty in its loss; (model, groups).

        batch_size: the batch the model is built at, when not config.batch_size (one replica's share).
        """
        plain = self.build_model(config, vocab_size, batch_size or config.batch_size, config.num_steps, seed)
        groups = self.iss_groups(plain, config)
        model = SparseModel(inputs=plain.input, outputs=plain.output, penalty=self.penalty(plain, groups, config),
                            iss_groups=groups, name=plain.name)
        return model, groups


def device_description() -> str:
    if keras.backend.backend() == "jax":
        import jax

        d = jax.devices()[0]
        if d.platform != "cpu":
            return f"{d.platform}: {getattr(d, 'device_kind', d)}"
    return f"cpu: {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def load_weights_into(model, run_path: str, with_optimizer: bool = False) -> dict:
    """Load run_path's last checkpoint (see load_weights_file); the checkpoint's loop state."""
    found = latest_checkpoint(run_path)
    if found is None:
        raise RestoreError(f"no complete checkpoint in {run_path}")
    state, weights = found
    load_weights_file(model, weights, with_optimizer, described_as=f"checkpoint in {run_path}")
    return state


def load_weights_file(model, path: str, with_optimizer: bool = False, described_as: str = "") -> None:
    """Load a weights file; its optimizer state too when resuming (with_optimizer).

    Without it (fine-tuning, evaluation) the optimizer starts fresh, so Keras' notice that it
    skipped the saved optimizer variables is expected and silenced.
    """
    optimizer = getattr(model, "optimizer", None)
    if with_optimizer and optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    try:
        with warnings.catch_warnings():
            if not with_optimizer:
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(path)
    except ValueError as e:
        raise RestoreError(f"{described_as or path} does not fit this model's architecture: {e}") from None


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
        StructureLog(lambda m: task.structure(m, config), os.path.join(save_path, "structure.csv")),
        loop.EpochLog(fields, config.max_max_epoch),
        keras.callbacks.CSVLogger(os.path.join(save_path, "log.csv"), append=resuming),
        *task.epoch_callbacks(model, config, seed, *train_xy),  # e.g. SET's prune-and-regrow between epochs
    ]
    callbacks += loop.tensorboard_if_available(os.path.join(save_path, "tensorboard"))
    callbacks.append(loop.EpochCheckpoint(save_path, state_fn))
    return callbacks


class StructureLog(keras.callbacks.Callback):
    """Each epoch, the task's structure report, when it counts a whole model ("model"), as a row of structure.csv.

    A Bayesian model's zeros exist only at evaluation (log alpha > 3), so the sparsity log sees
    none; Lobacheva et al.'s logs print what survives every epoch, and comparing runs epoch by
    epoch needs ours too. Kept out of `logs`, so log.csv keeps its columns when an older run resumes.
    """

    def __init__(self, structure_fn: Callable, csv_path: str):
        super().__init__()
        self.structure_fn, self.csv_path = structure_fn, csv_path

    def on_epoch_end(self, epoch, logs=None):
        report = self.structure_fn(self.model)
        if "model" not in report:
            return
        kept, total = report["model"]["weights"], report["model"]["weights_total"]
        row = {"nonzero_weights": kept, "weights": total, "compression": total / max(kept, 1)}
        row.update(_flatten({k: v for k, v in report.items() if k != "model"}))
        append_csv_row(self.csv_path, epoch, row)
        hidden = ", ".join(f"{k}: {v['hidden_neurons']}/{v['units']}" for k, v in report.items() if "units" in v)
        logging.info("epoch %d: %d of %d weights kept at evaluation (%.2fx); hidden neurons %s", epoch + 1, kept, total,
                     row["compression"], hidden or "-")


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def resume(task, model, config, save_path: str, vocab_size: int | None = None) -> tuple[int, float]:
    """Load save_path's last checkpoint (weights, optimizer, RNG) into model; (finished epochs, wall seconds so far).

    Only the number of epochs may differ from the saved run's config (a longer run continues it).
    """
    check_resumable(task, save_path, config, vocab_size)
    state = load_weights_into(model, save_path, with_optimizer=True)
    loop.restore_loop_state(model, save_path)
    logging.info("Resuming from %s after epoch %d", save_path, state["epoch"])
    return state["epoch"], state.get("wall_s", 0.0)


def train(task: LanguageModelTask, config, data_path: str, save_path: str, restore_path: str | None = None,
          seed: int | None = None, display_weights: bool = False, verbose: int = 2, command: str = "",
          model_name: str = "", distribute: bool = False, data=None) -> dict:
    """Train (resuming from save_path's checkpoint if there is one) and return results.json.

    restore_path: start from another run's final weights (fine-tuning); a checkpoint in
    save_path takes precedence (resume). distribute: data-parallel over every local device.
    data: task.load_data(data_path) when the caller has already read it.
    """
    keras.utils.set_random_seed(0 if seed is None else seed)
    placement = data_parallel(config.batch_size) if distribute else Placement()
    data, vocab = data if data is not None else task.load_data(data_path)
    vocab_size = len(vocab)
    os.makedirs(save_path, exist_ok=True)
    x, y, _ = batch_windows(data["train"], config.batch_size, config.num_steps)

    resumed = latest_checkpoint(save_path)
    initial_epoch, wall_before = 0, 0.0
    with placement.scope():
        model, groups = task.training_model(config, vocab_size, seed, placement.model_batch_size)
        if display_weights and not groups:  # refused now, not with a traceback after the last epoch
            raise ConfigError("--display_weights draws the matrices of the ISS groups, and this model has none "
                              "(structured Bayesian or H-LSTM layers); train without it")
        model.compile(optimizer=task.make_optimizer(config), loss=sequence_cross_entropy, metrics=[TokenCrossEntropy()])
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
        loop.build_before_fit(model, (x[: config.batch_size], y[: config.batch_size]))
    placement.prepare(model)

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
    placement.release()  # batch 1 does not split: the test pass runs on one device
    test_ppl = task.evaluator(config, vocab_size, 1, config.num_steps).perplexity(model, data["test"])
    hidden, weights = compact_summary(model, groups)
    results = {
        "task": task.name, "model": model_name, "backend": keras.backend.backend(), "device": device_description(),
        "epochs": config.max_max_epoch, "valid_ppl": valid_ppl, "test_ppl": test_ppl,
        "hidden_sizes": hidden, "weights": weights, "nonzero_weights": nonzero_weights(model),
        "wall_s": wall_s, "devices": placement.devices, "config": config.to_json(), "command": command,
    }
    report = task.structure(model, config)
    if report:
        results["structure"] = report
    if "model" in report:  # 11.3M variational parameters are not 11.3M non-zero weights
        results["variational_parameters"] = results["weights"]
        results["weights"], results["nonzero_weights"] = report["model"]["weights_total"], report["model"]["weights"]
    loop.write_json(results, os.path.join(save_path, "results.json"))
    if display_weights:
        plot_weight_sparsity(model, groups, os.path.join(save_path, "weights.png"))
    logging.info("Valid Perplexity: %.3f", valid_ppl)
    if groups:
        logging.info("Live ISS components per group: %s; compact model weights: %d", hidden, weights)
    else:  # no ISS groups: the compact count would be the dense (or variational) parameter count
        logging.info("Non-zero weights: %d of %d", results["nonzero_weights"], results["weights"])
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


def evaluate_run(task: LanguageModelTask, run_path: str, data_path: str, data=None) -> dict:
    """Valid and test perplexity of a run folder; data: task.load_data(data_path) when already read."""
    config, saved = read_run_config(task, run_path)
    data, vocab = data if data is not None else task.load_data(data_path)
    vocab_size = len(vocab)
    if vocab_size != saved["vocab_size"]:
        raise RestoreError(f"{data_path} has {vocab_size} words, the run in {run_path} was trained on {saved['vocab_size']}")
    model, _, _, _ = restore_model(task, run_path)
    valid = task.evaluator(config, vocab_size, config.batch_size, config.num_steps).perplexity(model, data["valid"])
    test = task.evaluator(config, vocab_size, 1, config.num_steps).perplexity(model, data["test"])
    return {"valid_ppl": valid, "test_ppl": test}


@dataclasses.dataclass
class CompactRun:
    """The dense model extracted from a run, with what it was made from."""

    model: keras.Model  # the task's own model at the live widths, dropout off, stateful (config batch x steps)
    config: object  # its config (a run folder holding it is like any other)
    widths: list  # live width per group
    kept: dict  # kept indices per group name
    groups: list
    sparse: keras.Model  # the run's model
    saved: dict  # the run's config.json


def compact_run(task: LanguageModelTask, run_path: str) -> CompactRun:
    """Slice the surviving units of a run into the task's dense model built at the live widths."""
    model, config, groups, saved = restore_model(task, run_path)
    try:
        plan = task.extraction_plan(model, config) if task.extraction_plan else None
        if plan is None:
            widths, values, kept = compact_values(model, groups)
        else:
            full, groups, kept = plan
            widths, values = [len(kept[g.name]) for g in groups], compact_weights(full, groups, kept)
    except ValueError as e:
        raise RestoreError(f"{run_path}: {e}") from None
    compact_config = task.compact_config(config, tuple(widths))
    compact = task.build_model(task.inference_config(compact_config), saved["vocab_size"], config.batch_size,
                               config.num_steps, None)
    assign_by_path(compact, values)
    return CompactRun(compact, compact_config, widths, kept, groups, model, saved)


def extract_run(task: LanguageModelTask, run_path: str, output: str) -> dict:
    """Write the compact dense model of a run: a run folder (config.json + checkpoint), model.keras, kept_units.npz.

    The compact model is the task's own model built at the live widths, with the surviving
    slices of every weight: the output folder is a run folder like any other (evaluate, restore).
    """
    run = compact_run(task, run_path)
    os.makedirs(output, exist_ok=True)
    source = os.path.abspath(run_path)
    loop.save_checkpoint(run.model, output, {"epoch": run.config.max_max_epoch, "extracted_from": source})
    loop.write_json({**run.saved, "config": run.config.to_json(), "extracted_from": source},
                    os.path.join(output, CONFIG_FILE))
    run.model.save(os.path.join(output, "model.keras"))
    np.savez(os.path.join(output, "kept_units.npz"), **{g.name: np.asarray(run.kept[g.name]) for g in run.groups})
    groups = [g.name for g in run.groups]
    return {"widths": run.widths, "groups": groups, "weights": count_weights(run.model),
            "nonzero_weights": nonzero_weights(run.model),  # what unstructured zeros inside the kept units leave
            "hidden_sizes": [w for g, w in zip(groups, run.widths) if g != "embedding"],  # not the embedding width (a Bayesian run)
            "sparse_weights": count_weights(run.sparse)}
