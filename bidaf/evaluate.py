"""Dev EM / F1 of a BiDAF run (or of its extracted compact model), and its predictions file.

    python -m bidaf.evaluate --restore_path=runs/bidaf_iss --predictions_path=runs/bidaf_iss/dev-predictions.json
    python -m bidaf.evaluate_squad DATA/squad/dev-v1.1.json.gz runs/bidaf_iss/dev-predictions.json  # same numbers
    python -m bidaf.evaluate --restore_path=runs/bidaf --trained_weights  # not the moving average
"""

import json

from absl import app, flags

from bidaf.config import RUN_KIND
from common.cli import exit_on_user_error
from common.errors import ConfigError
from common.run_folder import read_run_config

FLAGS = flags.FLAGS
flags.DEFINE_string("restore_path", None, "A bidaf.train save_path or a bidaf.extract output.")
flags.DEFINE_string("data_dir", None, "A bidaf.prepro target_dir (default: the one the run was trained on).")
flags.DEFINE_enum("split", "dev", ["dev", "train"], "Which split to score.")
flags.DEFINE_string("predictions_path", None, "Also write {question id: answer} here (official format).")
flags.DEFINE_bool("trained_weights", False, "Score the last checkpoint's weights as trained instead of their moving "
                  "average (short runs, whose average still carries the initialization).")
flags.DEFINE_bool("oracle", False, "No model: score the first answer's token span (what tokenization costs); needs --data_dir.")


@exit_on_user_error("bidaf.evaluate")
def main(argv):
    del argv
    if FLAGS.oracle:
        if not FLAGS.data_dir:
            raise ConfigError("--oracle needs --data_dir")
        from bidaf.experiment import oracle_scores

        print(json.dumps(oracle_scores(FLAGS.data_dir, FLAGS.split)))
    elif not FLAGS.restore_path:
        raise ConfigError("--restore_path is required (or --oracle with --data_dir)")
    else:
        read_run_config(RUN_KIND, FLAGS.restore_path)  # refused before Keras loads
        from bidaf.experiment import evaluate_run

        print(json.dumps(evaluate_run(FLAGS.restore_path, FLAGS.data_dir, FLAGS.split, FLAGS.predictions_path,
                                      FLAGS.trained_weights)))


if __name__ == "__main__":
    app.run(main)
