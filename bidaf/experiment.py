"""One BiDAF run in a folder: train (or resume), evaluate on dev (EM / F1), extract the compact model.

The run folder is the same as for the language models (config.json, checkpoint/ each epoch,
log.csv, sparsity.csv, tensorboard/, results.json), plus final.weights.h5: the weights that are
evaluated, i.e. the exponential moving average of the weights (Seo et al.) with every weight
that ISS zeroed kept at zero, so evaluation, extraction and the reported numbers agree.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
from absl import logging

import common
from bidaf.config import LSTM_LAYERS, RUN_KIND, BiDAFConfig
from bidaf.batches import SquadBatches
from bidaf.data import SquadArrays, bucketed_batches, load_prepared, padded_to_multiple
from bidaf.decode import best_spans
from bidaf.metric import evaluate_answers
from bidaf.model import build_model, compact_config, iss_groups, sparsity_penalty
from common import loop
from common.distribute import Placement, data_parallel
from common.errors import RestoreError
from common.experiment import (
    compact_summary,
    compact_values,
    device_description,
    load_weights_file,
    load_weights_into,
    nonzero_weights,
    resume,
)
from common.extraction import assign_by_path
from common.run_folder import latest_checkpoint, read_run_config

FINAL_WEIGHTS = "final.weights.h5"


def load_vocab(data_dir: str):
    data = SquadArrays(data_dir, "dev")
    embeddings = np.load(data.embeddings_path)
    return embeddings, len(data.vocab["chars"]), data.max_word_len


def build(config: BiDAFConfig, data_dir: str):
    embeddings, chars, word_len = load_vocab(data_dir)
    return build_model(config, embeddings, chars, word_len)


def predict_answers(model, data: SquadArrays, config: BiDAFConfig, indices=None, batch_size: int = 60,
                    multiple: int = 1) -> dict:
    """{question id: answer text} decoded from the model's start / end logits (full contexts).

    multiple: batches are padded to a multiple of this many rows (data-parallel devices), the
    padding's outputs dropped.
    """
    indices = np.arange(len(data)) if indices is None else np.asarray(indices)
    answers = {}
    for batch in bucketed_batches(data.example_context_lengths(indices), batch_size, None):
        idx = indices[batch]
        inputs, _ = data.batch(padded_to_multiple(idx, multiple)[0])
        out = model.predict_on_batch(inputs)
        if not isinstance(out, dict):  # Keras returns a list in output_names order here
            out = dict(zip(model.output_names, out))
        spans = best_spans(np.asarray(out["start"])[: len(idx)], np.asarray(out["end"])[: len(idx)],
                           config.max_answer_len)
        for q, (s, e) in zip(idx, spans):
            answers[data.ids[q]] = data.answer_text(q, int(s), int(e))
    return answers


def score(model, data: SquadArrays, config: BiDAFConfig, indices=None, multiple: int = 1) -> dict:
    indices = np.arange(len(data)) if indices is None else np.asarray(indices)
    predictions = predict_answers(model, data, config, indices, multiple=multiple)
    truths = {data.ids[q]: data.answers[q] for q in indices}
    return evaluate_answers(truths, predictions, warn=None)


def evaluation_weights(model, config: BiDAFConfig) -> list[np.ndarray]:
    """EMA of the trainable weights (when on), zero wherever the trained weight is exactly zero."""
    raw = [v.numpy() for v in model.trainable_variables]
    if not config.ema_decay:
        return raw
    model.optimizer.finalize_variable_values(model.trainable_variables)  # variables <- their averages
    averaged = [v.numpy() for v in model.trainable_variables]
    for v, r in zip(model.trainable_variables, raw):
        v.assign(r)
    return [np.where(r == 0, 0, a).astype(r.dtype) for a, r in zip(averaged, raw)]


class _SwapWeights:
    """Within the block the model holds `weights`; its trained ones come back afterwards."""

    def __init__(self, model, weights):
        self.model, self.weights = model, weights

    def __enter__(self):
        self.saved = [v.numpy() for v in self.model.trainable_variables]
        for v, w in zip(self.model.trainable_variables, self.weights):
            v.assign(w)

    def __exit__(self, *exc):
        for v, w in zip(self.model.trainable_variables, self.saved):
            v.assign(w)


def _optimizer(config: BiDAFConfig):
    ema = {"use_ema": config.ema_decay > 0, "ema_momentum": config.ema_decay or 0.99}
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.learning_rate, **ema)
    return keras.optimizers.Adadelta(config.learning_rate, epsilon=1e-8, **ema)  # TF1's AdaDelta epsilon


def training_model(config: BiDAFConfig, data_dir: str):
    plain = build(config, data_dir)
    groups = iss_groups(plain, config)
    model = common.SparseModel(inputs=plain.input, outputs=plain.output,
                               penalty=sparsity_penalty(plain, groups, config), iss_groups=groups, name="bidaf")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=_optimizer(config), loss={"start": loss, "end": loss})
    return model, groups


def train(config: BiDAFConfig, data_dir: str, save_path: str, restore_path: str | None = None, seed: int = 0,
          dev_limit: int | None = None, display_weights: bool = False, verbose: int = 1, command: str = "",
          model_name: str = "", distribute: bool = False, data=None) -> dict:
    """Train (resuming from save_path's checkpoint if there is one); results.json with dev EM / F1.

    distribute: data-parallel over every local device (common.distribute); each batch is padded
    to a multiple of the device count with zero-weight rows, so the loss is that of one device.
    data: load_prepared(data_dir) when the caller has already read it.
    """
    keras.utils.set_random_seed(seed)
    placement = data_parallel(config.batch_size) if distribute else Placement()
    train_data, dev = data if data is not None else load_prepared(data_dir)
    examples = train_data.trainable_examples(config.max_context_len)
    dev_indices = np.arange(len(dev))[:dev_limit]
    os.makedirs(save_path, exist_ok=True)

    resumed = latest_checkpoint(save_path)
    initial_epoch, wall_before = 0, 0.0
    with placement.scope():
        model, groups = training_model(config, data_dir)
        if resumed:
            # weights, AdaDelta accumulators, the weight average and the dropout RNG
            initial_epoch, wall_before = resume(RUN_KIND, model, config, save_path)
        elif restore_path:
            restored, _ = read_run_config(RUN_KIND, restore_path)
            if restored.directions != config.directions:
                raise RestoreError(f"{restore_path} has LSTM sizes {restored.directions}; this run builds {config.directions}")
            _load_final(model, restore_path)
            logging.info("Restored weights from %s", restore_path)
        if config.group_lasso or config.freeze_mode:
            common.attach_zero_threshold(model, config.zero_threshold, freeze_zeros=config.freeze_mode == "element")
    placement.prepare(model)
    loop.write_json({"task": "bidaf", "config": config.to_json(), "model": model_name, "command": command,
                     "data_dir": os.path.abspath(data_dir), "backend": keras.backend.backend()},
                    os.path.join(save_path, "config.json"))

    batches = SquadBatches(train_data, examples, config.batch_size, config.max_context_len, seed, placement.devices)
    batches.set_epoch(initial_epoch)
    loop.build_before_fit(model, batches[0])

    def dev_scores(m):
        with _SwapWeights(m, evaluation_weights(m, config)):
            s = score(m, dev, config, dev_indices, placement.devices)
        return {"val_em": s["exact_match"], "val_f1": s["f1"], "penalty": m.penalty_value()}

    start = time.perf_counter()
    fields = {"loss": ("loss", "%.3f"), "penalty": ("reg", "%.4f"), "val_em": ("dev EM", "%.2f"),
              "val_f1": ("dev F1", "%.2f"), "epoch_s": ("s", "%.0f")}
    fields.update({f"live/{g.name}": (f"live {g.name}", "%d") for g in groups})
    callbacks = [
        loop.WordsPerSecond(int(train_data.example_context_lengths(examples).sum())),
        loop.StopOnNonFiniteLoss(("loss",)),
        loop.EvaluateEachEpoch(dev_scores),
        common.SparsityLogger(groups, csv_path=os.path.join(save_path, "sparsity.csv")),
        loop.EpochLog(fields, config.max_max_epoch),
        keras.callbacks.CSVLogger(os.path.join(save_path, "log.csv"), append=bool(resumed)),
    ]
    callbacks += loop.tensorboard_if_available(os.path.join(save_path, "tensorboard"))
    callbacks.append(loop.EpochCheckpoint(save_path, lambda e, logs: {"wall_s": wall_before + time.perf_counter() - start}))
    callbacks.append(loop.KeepTrainedWeights())  # evaluation_weights below averages them itself
    logging.info("Training %s: LSTM sizes %s, %d examples (%d batches of %d), %d epochs", model_name or "bidaf",
                 config.directions, len(examples), len(batches), config.batch_size, config.max_max_epoch)
    if initial_epoch < config.max_max_epoch:
        # shuffle=False: SquadBatches already shuffles, from (seed, epoch); Keras' own shuffle of a
        # PyDataset draws from Python's global RNG, which a resumed run would not reproduce
        model.fit(batches, epochs=config.max_max_epoch, initial_epoch=initial_epoch, verbose=verbose,
                  callbacks=callbacks, shuffle=False)
    wall_s = wall_before + time.perf_counter() - start

    final = evaluation_weights(model, config)
    for v, w in zip(model.trainable_variables, final):
        v.assign(w)
    _save_final(model, save_path)
    scores = score(model, dev, config, dev_indices, placement.devices)
    placement.release()
    widths, weights = compact_summary(model, groups)
    results = {
        "task": "bidaf", "model": model_name, "backend": keras.backend.backend(), "device": device_description(),
        "epochs": config.max_max_epoch, "dev_em": scores["exact_match"], "dev_f1": scores["f1"],
        "dev_questions": len(dev_indices), "hidden_sizes": widths, "weights": weights,
        "nonzero_weights": nonzero_weights(model), "wall_s": wall_s,
        "devices": placement.devices,
        "config": config.to_json(), "command": command,
    }
    loop.write_json(results, os.path.join(save_path, "results.json"))
    if display_weights:
        common.plot_weight_sparsity(model, groups, os.path.join(save_path, "weights.png"))
    logging.info("Live LSTM units per direction: %s; compact model trainable weights: %d", widths, weights)
    print(json.dumps({"exact_match": scores["exact_match"], "f1": scores["f1"]}))
    return results


def _save_final(model, folder):
    tmp = os.path.join(folder, "incomplete." + FINAL_WEIGHTS)
    model.save_weights(tmp)
    os.replace(tmp, os.path.join(folder, FINAL_WEIGHTS))


def _load_final(model, run_path):
    """The evaluated weights of a finished run (else its last checkpoint)."""
    path = os.path.join(run_path, FINAL_WEIGHTS)
    if not os.path.isfile(path):
        return load_weights_into(model, run_path)
    load_weights_file(model, path)


def restore(run_path: str, data_dir: str | None = None, trained_weights: bool = False):
    """(model with the run's evaluated weights, config, groups, config.json); data_dir defaults to the run's.

    trained_weights: the last checkpoint's weights as trained, not their moving average; after a
    few epochs the average still carries much of the initialization (0.999^1460 = 0.23 of it
    after one SQuAD epoch at batch 60).
    """
    config, saved = read_run_config(RUN_KIND, run_path)
    model = build(config, data_dir or saved["data_dir"])
    if trained_weights:
        load_weights_into(model, run_path)
    else:
        _load_final(model, run_path)
    return model, config, iss_groups(model, config), saved


def evaluate_run(run_path: str, data_dir: str | None = None, split: str = "dev", predictions_path: str | None = None,
                 trained_weights: bool = False):
    model, config, _, saved = restore(run_path, data_dir, trained_weights)
    data = SquadArrays(data_dir or saved["data_dir"], split)
    predictions = predict_answers(model, data, config)
    if predictions_path:
        loop.write_json(predictions, predictions_path)
    truths = {qid: answers for qid, answers in zip(data.ids, data.answers)}
    return evaluate_answers(truths, predictions, warn=None)


def oracle_scores(data_dir: str, split: str = "dev") -> dict:
    """EM / F1 if the first answer's token span were predicted: what tokenization alone costs."""
    data = SquadArrays(data_dir, split)
    spans = data.arrays["answer_spans"]
    predictions = {data.ids[q]: data.answer_text(q, int(s), int(e)) for q, (s, e) in enumerate(spans) if s >= 0}
    return evaluate_answers(dict(zip(data.ids, data.answers)), predictions, warn=None)


def extract_run(run_path: str, output: str, data_dir: str | None = None) -> dict:
    """The compact dense BiDAF of a run: a run folder (config.json with the live sizes, final weights) + model.keras."""
    model, config, groups, saved = restore(run_path, data_dir)
    try:
        widths, values, kept = compact_values(model, groups)
    except ValueError as e:
        raise RestoreError(f"{run_path}: {e}") from None
    small = compact_config(config, widths)
    compact = build(small, data_dir or saved["data_dir"])
    assign_by_path(compact, values)
    os.makedirs(output, exist_ok=True)
    _save_final(compact, output)
    loop.write_json({**saved, "config": small.to_json(), "extracted_from": os.path.abspath(run_path)},
                    os.path.join(output, "config.json"))
    compact.save(os.path.join(output, "model.keras"))
    return {"hidden_sizes": dict(zip(LSTM_LAYERS, small.lstm_sizes)), "weights": common.count_weights(compact),
            "sparse_weights": common.count_weights(model), "nonzero_weights": nonzero_weights(compact)}
