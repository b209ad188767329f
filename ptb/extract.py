"""Extract the compact dense model of a sparse ptb run: delete every all-zero ISS component.

    python -m ptb.extract --restore_path=runs/RUN --output=runs/RUN_compact
    python -m ptb.evaluate --restore_path=runs/RUN_compact --data_path=DATA/ptb   # same perplexity
"""

from absl import app

from common.cli import extract_main
from ptb.config import RUN_KIND

main = extract_main("ptb.extract", RUN_KIND)

if __name__ == "__main__":
    app.run(main)
