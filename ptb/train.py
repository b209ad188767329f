"""Train a stacked LSTM language model on PTB, optionally learning ISS.

    python -m ptb.train --model=small --data_path=DATA/ptb --save_path=runs/small
    python -m ptb.train --model=sparselarge --data_path=DATA/ptb \
        --config_file=ptb/configs/structure_grouplasso.json --save_path=runs/iss
"""

import dataclasses

from absl import app, flags

from common.cli import ConfigError, train_main
from ptb.config import PRESETS, apply_config_file
from ptb.model import TASK

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "small", sorted(PRESETS), "Preset: small, medium, large, sparselarge or test.")
flags.DEFINE_string("config_file", None, "iss-rnns JSON config: lr, L1, dropout, group Lasso.")
flags.DEFINE_integer("hidden_size1", None, "Width of the first LSTM (direct design).", lower_bound=1)
flags.DEFINE_integer("hidden_size2", None, "Width of the second LSTM (direct design).", lower_bound=1)
flags.DEFINE_integer("max_max_epoch", None, "Number of epochs (default: the preset's).", lower_bound=1)
flags.DEFINE_enum("optimizer", "gd", ["gd", "adam"], "Plain SGD (the reference) or Adam.")
flags.DEFINE_enum("freeze_mode", "", ["", "element"], "'element': zero weights stay zero (fine-tuning).")
flags.DEFINE_float("zero_threshold", None, "Zero |w| below this after every step (default: the preset's 1e-4).",
                   lower_bound=0.0)


def resolve_config():
    config = PRESETS[FLAGS.model]
    if FLAGS.config_file:
        config = apply_config_file(config, FLAGS.config_file)
    changes = {"optimizer": FLAGS.optimizer, "freeze_mode": FLAGS.freeze_mode}
    sizes = (FLAGS.hidden_size1, FLAGS.hidden_size2)
    if any(s is not None for s in sizes):
        if config.num_layers != 2:
            raise ConfigError("--hidden_size1/--hidden_size2 need a 2-layer model")
        changes["hidden_sizes"] = tuple(s if s is not None else config.hidden_size for s in sizes)
    if FLAGS.max_max_epoch:
        changes["max_max_epoch"] = FLAGS.max_max_epoch
    if FLAGS.zero_threshold is not None:
        changes["zero_threshold"] = FLAGS.zero_threshold
    return dataclasses.replace(config, **changes)


main = train_main("ptb.train", TASK, resolve_config, default_save_path="runs/ptb")

if __name__ == "__main__":
    app.run(main)
