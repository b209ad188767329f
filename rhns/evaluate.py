"""Valid and test perplexity of a saved rhns run (or of an extracted compact model).

    python -m rhns.evaluate --restore_path=runs/RUN --data_path=DATA/ptb
"""

from absl import app

from common.cli import evaluate_main
from rhns.config import RUN_KIND

main = evaluate_main("rhns.evaluate", RUN_KIND)

if __name__ == "__main__":
    app.run(main)
