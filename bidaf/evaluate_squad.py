"""The official SQuAD v1.1 evaluation as a program: prints {"exact_match": X, "f1": Y}.

    python -m bidaf.evaluate_squad DATA/squad/dev-v1.1.json.gz predictions.json

Both files may be gzip-compressed. The predictions file maps question ids to answer strings.
"""

from __future__ import annotations

import argparse
import json
import sys

from bidaf.metric import evaluate
from bidaf.squad import SquadFormatError, load_squad, read_json


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Evaluation for SQuAD v1.1")
    parser.add_argument("dataset_file", help="Dataset file (SQuAD v1.1 JSON, optionally .gz)")
    parser.add_argument("prediction_file", help="Prediction file ({question id: answer})")
    args = parser.parse_args(argv)
    try:
        articles = load_squad(args.dataset_file)
        predictions = read_json(args.prediction_file)
        if not isinstance(predictions, dict) or not all(isinstance(v, str) for v in predictions.values()):
            raise SquadFormatError(f"{args.prediction_file}: expected a JSON object {{question id: answer string}}")
    except SquadFormatError as e:
        print(f"bidaf.evaluate_squad: error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(evaluate(articles, predictions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
