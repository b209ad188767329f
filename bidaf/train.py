"""Train BiDAF on SQuAD v1.1 (after bidaf.prepro), optionally learning ISS in every bi-LSTM.

    python -m bidaf.train --model=bidaf --data_dir=DATA/squad_bidaf --save_path=runs/bidaf
    python -m bidaf.train --model=bidaf_iss --data_dir=DATA/squad_bidaf --save_path=runs/bidaf_iss
"""

import sys

from absl import app, flags

from bidaf.config import PRESETS, RUN_KIND, apply_config_file
from bidaf.data import load_prepared
from common.cli import (
    check_run_folders,
    config_from_flags,
    define_distribute_flags,
    exit_on_user_error,
    use_host_devices_flag,
)

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "bidaf", sorted(PRESETS), "Preset: bidaf (baseline), bidaf_iss (ISS, lambda 0.001) or test.")
flags.DEFINE_string("data_dir", None, "A bidaf.prepro target_dir.", required=True)
flags.DEFINE_string("save_path", "runs/bidaf", "Output directory; a run found there is resumed.")
flags.DEFINE_string("restore_path", None, "A previous save_path to start from (fine-tuning).")
flags.DEFINE_string("config_file", None, "JSON object of BiDAFConfig fields, e.g. {\"group_lasso\": 0.001}.")
flags.DEFINE_integer("max_max_epoch", None, "Number of epochs (default: the preset's 12).", lower_bound=1)
flags.DEFINE_integer("batch_size", None, "Batch size (default 60).", lower_bound=1)
flags.DEFINE_integer("hidden_size", None, "Every LSTM direction's width (default 100).", lower_bound=1)
flags.DEFINE_float("group_lasso", None, "ISS lambda (default: the preset's).", lower_bound=0.0)
flags.DEFINE_float("zero_threshold", None, "Zero |w| below this after every step when ISS is on (default 4e-4).",
                   lower_bound=0.0)
flags.DEFINE_enum("freeze_mode", "", ["", "element"], "'element': zero weights stay zero (fine-tuning).")
flags.DEFINE_integer("dev_limit", None, "Score only the first N dev questions each epoch (quick runs).", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Random seed (initialization, dropout, batch order).")
flags.DEFINE_bool("display_weights", False, "Write weights.png, the sparsity pattern of each matrix.")
flags.DEFINE_integer("verbose", 1, "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.")
define_distribute_flags()


def resolve_config():
    return config_from_flags(PRESETS, apply_config_file, ("max_max_epoch", "batch_size", "hidden_size", "group_lasso", "zero_threshold"), freeze_mode=FLAGS.freeze_mode)


@exit_on_user_error("bidaf.train")
def main(argv):
    del argv
    use_host_devices_flag()
    # a bad flag, config file, data folder or run folder is refused before Keras loads
    config = resolve_config()
    data = load_prepared(FLAGS.data_dir)
    check_run_folders(RUN_KIND, config, FLAGS.save_path, FLAGS.restore_path)
    from bidaf.experiment import train

    train(config, FLAGS.data_dir, FLAGS.save_path, FLAGS.restore_path, seed=FLAGS.seed,
          dev_limit=FLAGS.dev_limit, display_weights=FLAGS.display_weights, verbose=FLAGS.verbose,
          command=" ".join(sys.argv), model_name=FLAGS.model, distribute=FLAGS.distribute, data=data)


if __name__ == "__main__":
    app.run(main)
