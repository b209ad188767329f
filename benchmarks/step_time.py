"""Training step time of a task's real-size model, and what one epoch (and the schedule) costs.

    python -m benchmarks.step_time --task=rhn --model=ptb_iss_sota            # synthetic tokens, PTB shapes
    python -m benchmarks.step_time --task=bidaf --model=bidaf --data_dir=DATA/squad_bidaf
    python -m benchmarks.step_time --task=ptb --run=runs/RUN              # the model of a run's config.json
    python -m benchmarks.step_time --task=ptb --run=runs/RUN --without_penalty  # what its penalty term costs

Language models run on random token windows of the preset's batch x num_steps (the step time
does not depend on the tokens); BiDAF runs real batches of a bidaf.prepro folder. The first
batches (compilation) are not timed. Prints one JSON line.
"""

from __future__ import annotations

import json
import time

import keras
import numpy as np
from absl import app, flags

from common.experiment import device_description
from common.lm import sequence_cross_entropy
from common.regularizers import SparsityPenalty

FLAGS = flags.FLAGS
flags.DEFINE_enum("task", "rhn", ["ptb", "rhn", "bidaf"], "Which task's model.")
flags.DEFINE_string("model", None, "The task's preset (default: ptb large, rhn ptb_iss_sota, bidaf bidaf).")
flags.DEFINE_integer("steps", 10, "Timed training steps.", lower_bound=1)
flags.DEFINE_integer("warmup", 3, "Untimed steps first (compilation).", lower_bound=1)
flags.DEFINE_integer("vocab_size", 10000, "Language models: vocabulary size (PTB: 10000).")
flags.DEFINE_integer("train_tokens", 929589, "Language models: training tokens per epoch (PTB: 929,589).")
flags.DEFINE_string("data_dir", None, "BiDAF: a bidaf.prepro folder.")
flags.DEFINE_string("run", None, "Language models: time the model of this run folder's config.json (every flag it was "
                    "trained with, and its vocabulary size) instead of a preset.")
flags.DEFINE_bool("without_penalty", False, "Language models: leave the sparsity penalty (ISS group Lasso, L1, the "
                  "Bayesian KL) out of the loss; the model, its thresholding and the optimizer stay the same, so the "
                  "difference to a run without this flag is what the penalty term costs per step.")


def language_model_step(task, config):
    model, _ = task.training_model(config, FLAGS.vocab_size, 0)
    if FLAGS.without_penalty:
        model.penalty = SparsityPenalty()  # before the first step traces the loss
    model.compile(optimizer=task.make_optimizer(config), loss=sequence_cross_entropy)
    task.attach_thresholds(model, config)
    n = config.batch_size * (FLAGS.steps + FLAGS.warmup)
    x = np.random.default_rng(0).integers(0, FLAGS.vocab_size, (n, config.num_steps)).astype("int32")
    batches = [(x[i : i + config.batch_size],) * 2 for i in range(0, n, config.batch_size)]
    per_epoch = FLAGS.train_tokens // (config.batch_size * config.num_steps)
    return model, batches, per_epoch, config.batch_size * config.num_steps


def bidaf_step(config):
    from bidaf.batches import SquadBatches
    from bidaf.data import SquadArrays
    from bidaf.experiment import training_model

    data = SquadArrays(FLAGS.data_dir, "train")
    model, _ = training_model(config, FLAGS.data_dir)
    if config.group_lasso:
        import common

        common.attach_zero_threshold(model, config.zero_threshold)
    plan = SquadBatches(data, data.trainable_examples(config.max_context_len), config.batch_size,
                        config.max_context_len)
    batches = [plan[i] for i in range(FLAGS.steps + FLAGS.warmup)]
    return model, batches, len(plan), config.batch_size


def main(argv):
    del argv
    if FLAGS.task == "bidaf":
        if FLAGS.without_penalty:
            raise app.UsageError("--without_penalty is for the language models (--task=ptb or rhn), not bidaf")
        from bidaf.config import PRESETS

        config = PRESETS[FLAGS.model or "bidaf"]
        model, batches, per_epoch, items = bidaf_step(config)
    else:
        if FLAGS.task == "rhn":
            from rhns.config import PRESETS
            from rhns.model import TASK
        else:
            from ptb.config import PRESETS
            from ptb.model import TASK
        if FLAGS.run:
            from common.run_folder import read_run_config

            config, saved = read_run_config(TASK, FLAGS.run)
            FLAGS.vocab_size = saved["vocab_size"]
        else:
            config = PRESETS[FLAGS.model or ("ptb_iss_sota" if FLAGS.task == "rhn" else "large")]
        model, batches, per_epoch, items = language_model_step(TASK, config)
    for x, y in batches[: FLAGS.warmup]:
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for x, y in batches[FLAGS.warmup :]:
        loss = model.train_on_batch(x, y)
    keras.ops.convert_to_numpy(loss if not isinstance(loss, list) else loss[0])  # wait for the device
    step = (time.perf_counter() - start) / FLAGS.steps
    report = {"task": FLAGS.task, "model": FLAGS.model, "run": FLAGS.run, "backend": keras.backend.backend(), "device": device_description(),
              "step_ms": 1000 * step, "items_per_s": items / step, "steps_per_epoch": per_epoch,
              "epoch_min": step * per_epoch / 60, "config": config.to_json(),
              "penalty_terms": [type(t).__name__ for t in getattr(getattr(model, "penalty", None), "terms", [])]}
    print(json.dumps(report))


if __name__ == "__main__":
    app.run(main)
