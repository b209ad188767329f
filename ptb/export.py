"""Export a ptb run for deployment: .keras, TensorFlow SavedModel and TFLite, each checked against Keras.

    python -m ptb.extract --restore_path=runs/RUN --output=runs/RUN_compact     # optional: a sparse run
    python -m ptb.export --restore_path=runs/RUN_compact --output=deploy/RUN --num_steps=35 --int8

The exported model reads one window of token ids [batch_size, num_steps] and returns the logits
[batch_size, num_steps, vocab]; it is stateless and unrolled (the TFLite converter cannot lower
the LSTM's loop), so each window starts from a zero state. A sparse run is extracted to its dense
form first, as ptb.extract does. export.json records each file and its largest absolute output
difference from the Keras model on a random window; with --data_path, also each format's test
perplexity as the exported model computes it (every window from a zero state, so above the
stateful perplexity of ptb.evaluate), which shows what int8 weights cost.
"""

import json
import os

import numpy as np
from absl import app, flags

from common.cli import exit_on_user_error
from common.errors import DataError
from common.run_folder import read_run_config
from ptb.config import RUN_KIND
from ptb.reader import load_ptb

FLAGS = flags.FLAGS
flags.DEFINE_string("restore_path", None, "A ptb run: a train save_path (sparse runs are extracted) or an extract output.",
                    required=True)
flags.DEFINE_string("output", None, "Directory for the exported files and export.json.", required=True)
flags.DEFINE_integer("batch_size", 1, "Batch size of the exported model.", lower_bound=1)
flags.DEFINE_integer("num_steps", 35, "Tokens per window of the exported model.", lower_bound=1)
flags.DEFINE_multi_enum("formats", ["keras", "saved_model", "tflite"], ["keras", "saved_model", "tflite"],
                        "Formats to write (repeat the flag).")
flags.DEFINE_bool("int8", False, "Also write a TFLite model with dynamic-range int8 weights.")
flags.DEFINE_string("data_path", None, "PTB folder: also report every format's test perplexity, window by window.")
flags.DEFINE_bool("hoist_inputs", False, "Multiply each LSTM's input kernel once per window instead of once per "
                  "step: same outputs, faster on CPUs and TFLite for wide inputs, no gain for small models "
                  "(common.layers.LSTM(hoist_inputs=True); results/speedup.md).")


def _perplexities(model, report, ids, batch_size, num_steps) -> dict:
    from common.export import tflite_runner
    from common.lm import window_perplexity

    predict = {"keras": model.predict_on_batch}
    for name in ("tflite", "tflite_int8"):
        if name in report:
            with open(report[name]["path"], "rb") as f:
                predict[name] = tflite_runner(f.read(), (batch_size, num_steps))
    return {name: window_perplexity(fn, ids, batch_size, num_steps) for name, fn in predict.items()}


@exit_on_user_error("ptb.export")
def main(argv):
    del argv
    if FLAGS.int8 and "tflite" not in FLAGS.formats:
        raise app.UsageError("--int8 writes a TFLite model: add --formats=tflite")
    read_run_config(RUN_KIND, FLAGS.restore_path)  # a wrong folder or data fails first, before Keras loads
    splits, words = load_ptb(FLAGS.data_path) if FLAGS.data_path else ({}, None)
    from common.export import export_model
    from ptb.model import deployment_model

    model, config, vocab = deployment_model(FLAGS.restore_path, FLAGS.batch_size, FLAGS.num_steps, FLAGS.hoist_inputs)
    if words is not None and len(words) != vocab:
        raise DataError(f"{FLAGS.data_path} has {len(words)} word types, the run was trained on {vocab}: not its data")
    sample = np.random.default_rng(0).integers(0, vocab, size=(FLAGS.batch_size, FLAGS.num_steps)).astype("int32")
    report = export_model(model, FLAGS.output, sample, formats=tuple(FLAGS.formats), int8=FLAGS.int8)
    summary = {"restore_path": os.path.abspath(FLAGS.restore_path), "lstm_sizes": list(config.lstm_sizes),
               "embedding_size": None if config.one_hot_input else config.hidden_size,  # None: one-hot words
               "vocab_size": vocab, "batch_size": FLAGS.batch_size, "num_steps": FLAGS.num_steps,
               "hoist_inputs": FLAGS.hoist_inputs, "exports": report}
    if splits:
        summary["test_ppl_zero_state_windows"] = _perplexities(model, report, splits["test"], FLAGS.batch_size,
                                                               FLAGS.num_steps)
    with open(os.path.join(FLAGS.output, "export.json"), "w") as f:
        json.dump(summary, f, indent=1)
    inputs = "one-hot input" if config.one_hot_input else f"embedding {config.hidden_size}"
    print(f"LSTM sizes {list(config.lstm_sizes)}, {inputs}, vocabulary {vocab}; "
          f"window {FLAGS.batch_size} x {FLAGS.num_steps}")
    for name, entry in report.items():
        size = f", {entry['bytes']:,} bytes" if "bytes" in entry else ""
        print(f"{name}: {entry['path']}{size}; max |output - Keras output| = {entry['max_abs_diff']:.2e}")
    for name, ppl in summary.get("test_ppl_zero_state_windows", {}).items():
        print(f"{name}: test perplexity {ppl:.3f} (each {FLAGS.num_steps}-token window from a zero state)")


if __name__ == "__main__":
    app.run(main)
