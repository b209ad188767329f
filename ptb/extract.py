"""Extract the compact dense model of a sparse PTB run: delete every all-zero ISS component.

    python -m ptb.extract --restore_path=runs/iss --output=runs/iss_compact
    python -m ptb.evaluate --restore_path=runs/iss_compact --data_path=DATA/ptb   # same perplexity
"""

from absl import app, flags

from ptb.cli import exit_on_user_error
from ptb.experiment import extract_run

FLAGS = flags.FLAGS
flags.DEFINE_string("restore_path", None, "A ptb.train save_path.", required=True)
flags.DEFINE_string("output", None, "Directory for the compact model (a run folder + model.keras).", required=True)


@exit_on_user_error("ptb.extract")
def main(argv):
    del argv
    result = extract_run(FLAGS.restore_path, FLAGS.output)
    print(f"Hidden sizes: {result['hidden_sizes']}")
    print(f"Weights: {result['weights']} (sparse model: {result['sparse_weights']})")


if __name__ == "__main__":
    app.run(main)
