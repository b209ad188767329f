"""Extract the compact dense BiDAF of a sparse run: delete every all-zero ISS component of every bi-LSTM.

    python -m bidaf.extract --restore_path=runs/bidaf_iss --output=runs/bidaf_iss_compact
    python -m bidaf.evaluate --restore_path=runs/bidaf_iss_compact   # same EM / F1
"""

from absl import app, flags

from bidaf.config import RUN_KIND
from common.cli import exit_on_user_error
from common.run_folder import read_run_config

FLAGS = flags.FLAGS
flags.DEFINE_string("restore_path", None, "A bidaf.train save_path.", required=True)
flags.DEFINE_string("output", None, "Directory for the compact model (a run folder + model.keras).", required=True)
flags.DEFINE_string("data_dir", None, "A bidaf.prepro target_dir (default: the one the run was trained on).")


@exit_on_user_error("bidaf.extract")
def main(argv):
    del argv
    read_run_config(RUN_KIND, FLAGS.restore_path)  # refused before Keras loads
    from bidaf.experiment import extract_run

    result = extract_run(FLAGS.restore_path, FLAGS.output, FLAGS.data_dir)
    print(f"Hidden sizes: {result['hidden_sizes']}")
    print(f"Weights: {result['weights']} (sparse model: {result['sparse_weights']}); "
          f"non-zero: {result['nonzero_weights']}")


if __name__ == "__main__":
    app.run(main)
