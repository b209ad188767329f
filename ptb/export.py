"""Export a ptb run for deployment: .keras, TensorFlow SavedModel and TFLite, each checked against Keras.

    python -m ptb.extract --restore_path=runs/RUN --output=runs/RUN_compact     # optional: a sparse run
    python -m ptb.export --restore_path=runs/RUN_compact --output=deploy/RUN --num_steps=35 --int8

The exported model reads one window of token ids [batch_size, num_steps] and returns the logits
[batch_size, num_steps, vocab]; it is stateless and unrolled (the TFLite converter cannot lower
the LSTM's loop), so each window starts from a zero state. A sparse run is extracted to its dense
form first, as ptb.extract does. export.json records each file and its largest absolute output
difference from the Keras model on a random window.
"""

import json
import os

import numpy as np
from absl import app, flags

from common.cli import exit_on_user_error
from common.export import export_model
from ptb.model import deployment_model

FLAGS = flags.FLAGS
flags.DEFINE_string("restore_path", None, "A ptb run: a train save_path (sparse runs are extracted) or an extract output.",
                    required=True)
flags.DEFINE_string("output", None, "Directory for the exported files and export.json.", required=True)
flags.DEFINE_integer("batch_size", 1, "Batch size of the exported model.", lower_bound=1)
flags.DEFINE_integer("num_steps", 35, "Tokens per window of the exported model.", lower_bound=1)
flags.DEFINE_multi_enum("formats", ["keras", "saved_model", "tflite"], ["keras", "saved_model", "tflite"],
                        "Formats to write (repeat the flag).")
flags.DEFINE_bool("int8", False, "Also write a TFLite model with dynamic-range int8 weights.")
flags.DEFINE_bool("hoist_inputs", False, "Multiply each LSTM's input kernel once per window instead of once per "
                  "step: faster on CPUs, same outputs (common.layers.LSTM(hoist_inputs=True)).")


@exit_on_user_error("ptb.export")
def main(argv):
    del argv
    if FLAGS.int8 and "tflite" not in FLAGS.formats:
        raise app.UsageError("--int8 writes a TFLite model: add --formats=tflite")
    model, config, vocab = deployment_model(FLAGS.restore_path, FLAGS.batch_size, FLAGS.num_steps, FLAGS.hoist_inputs)
    sample = np.random.default_rng(0).integers(0, vocab, size=(FLAGS.batch_size, FLAGS.num_steps)).astype("int32")
    report = export_model(model, FLAGS.output, sample, formats=tuple(FLAGS.formats), int8=FLAGS.int8)
    summary = {"restore_path": os.path.abspath(FLAGS.restore_path), "lstm_sizes": list(config.lstm_sizes),
               "embedding_size": config.hidden_size, "vocab_size": vocab, "batch_size": FLAGS.batch_size,
               "num_steps": FLAGS.num_steps, "hoist_inputs": FLAGS.hoist_inputs, "exports": report}
    with open(os.path.join(FLAGS.output, "export.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"LSTM sizes {list(config.lstm_sizes)}, embedding {config.hidden_size}, vocabulary {vocab}; "
          f"window {FLAGS.batch_size} x {FLAGS.num_steps}")
    for name, entry in report.items():
        size = f", {entry['bytes']:,} bytes" if "bytes" in entry else ""
        print(f"{name}: {entry['path']}{size}; max |output - Keras output| = {entry['max_abs_diff']:.2e}")


if __name__ == "__main__":
    app.run(main)
