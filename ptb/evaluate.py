"""Valid and test perplexity of a saved PTB run (or of an extracted compact model).

    python -m ptb.evaluate --restore_path=runs/small --data_path=DATA/ptb
"""

from absl import app, flags

from ptb.cli import exit_on_user_error
from ptb.experiment import evaluate_run

FLAGS = flags.FLAGS
flags.DEFINE_string("restore_path", None, "A ptb.train save_path or a ptb.extract output.", required=True)
flags.DEFINE_string("data_path", None, "Directory with the PTB files.", required=True)


@exit_on_user_error("ptb.evaluate")
def main(argv):
    del argv
    result = evaluate_run(FLAGS.restore_path, FLAGS.data_path)
    print(f"Valid Perplexity: {result['valid_ppl']:.3f}")
    print(f"Test Perplexity: {result['test_ppl']:.3f}")


if __name__ == "__main__":
    app.run(main)
