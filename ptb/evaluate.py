"""Valid and test perplexity of a saved ptb run (or of an extracted compact model).

    python -m ptb.evaluate --restore_path=runs/RUN --data_path=DATA/ptb
"""

from absl import app

from common.cli import evaluate_main
from ptb.config import RUN_KIND

main = evaluate_main("ptb.evaluate", RUN_KIND)

if __name__ == "__main__":
    app.run(main)
