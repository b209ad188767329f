"""Train a variational RHN language model on PTB, optionally learning ISS.

    python -m rhns.train --model=ptb_sota --data_path=DATA/ptb --save_path=runs/rhn
    python -m rhns.train --model=ptb_iss_sota --data_path=DATA/ptb --save_path=runs/rhn_iss
"""


from absl import app, flags

from common.cli import config_from_flags, train_main
from rhns.config import PRESETS, RUN_KIND, apply_config_file

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "ptb_iss_sota", sorted(PRESETS), "Preset: ptb_sota (baseline), ptb_iss_sota (ISS) or test.")
flags.DEFINE_string("config_file", None, "JSON object of reference config names (hidden_size, drop_x, structure_wd, ...).")
flags.DEFINE_integer("hidden_size", None, "RHN width (= embedding width); e.g. 517 or 726 for direct design.", lower_bound=1)
flags.DEFINE_integer("depth", None, "Recurrence depth.", lower_bound=1)
flags.DEFINE_integer("max_max_epoch", None, "Number of epochs (default: the preset's 500).", lower_bound=1)
flags.DEFINE_float("structure_wd", None, "ISS group-Lasso strength (default: the preset's).", lower_bound=0.0)
flags.DEFINE_float("zero_threshold", None, "Zero |w| below this after every step when ISS is on (default 4e-4).",
                   lower_bound=0.0)
flags.DEFINE_enum("freeze_mode", "", ["", "element"], "'element': zero weights stay zero (fine-tuning).")


def resolve_config():
    return config_from_flags(PRESETS, apply_config_file, ("hidden_size", "depth", "max_max_epoch", "structure_wd", "zero_threshold"), freeze_mode=FLAGS.freeze_mode)


main = train_main("rhns.train", RUN_KIND, resolve_config, default_save_path="runs/rhn")

if __name__ == "__main__":
    app.run(main)
