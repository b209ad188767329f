"""The results.json of each method's run folder as one markdown table (for results/methods.md).

    python -m benchmarks.methods_table runs/methods
"""

from __future__ import annotations

import json
import os
import sys

METHODS = ("dense", "iss", "l1", "set", "bayes", "grow_prune")


def row(name: str, r: dict) -> str:
    total, nonzero = r["weights"], r["nonzero_weights"]
    structure = r.get("structure")
    if structure:  # Bayesian: what survives at evaluation (means with log alpha <= 3)
        units = ", ".join(f"{s['hidden_neurons']}/{s['units']}" for s in structure.values())
        kept = sum(s["weights"] for s in structure.values())
        lstm_total = sum(s["weights_total"] for s in structure.values())
        weights = f"LSTM weights kept {kept:,} / {lstm_total:,}"
    else:
        units = ", ".join(str(h) for h in r["hidden_sizes"]) or "n/a (no ISS groups)"
        weights = f"{nonzero:,} non-zero / {total:,}"
    return (f"| {name} | {r['epochs']} | {r['valid_ppl']:.2f} | {r['test_ppl']:.2f} | {weights} | {units} | "
            f"{r['wall_s'] / 60:.1f} |")


def main(folder: str) -> None:
    print("| method | epochs | valid ppl | test ppl | weights | hidden units | wall min |")
    print("|---|---|---|---|---|---|---|")
    for name in METHODS:
        path = os.path.join(folder, name, "results.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                print(row(name, json.load(f)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/methods")
