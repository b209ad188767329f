"""The results.json of each method's run folder as one markdown table (for results/methods.md).

    python -m benchmarks.methods_table runs/methods
    python -m benchmarks.methods_table runs/methods256    # benchmarks/methods_1x256.sh: its variants too

A run folder with an inference.json (benchmarks.inference of its extracted dense model against
the dense run) gets its measured speedup; methods whose masks are unstructured have no dense
structure to extract, and the table says so rather than timing the same dense shapes.
"""

from __future__ import annotations

import json
import os
import sys

METHODS = ("dense", "iss", "l1", "set", "bayes", "grow_prune")
UNSTRUCTURED = {"set": "none: unstructured masks", "grow_prune": "none: unstructured H-LSTM masks"}


def speedup(name: str, inference: dict | None) -> str:
    if name == "dense":
        return "1 (baseline)"
    if inference is None:
        return UNSTRUCTURED.get(name, "not measured")
    sizes = ", ".join(map(str, inference["hidden_sizes"]["compact"]))
    width = inference["embedding_size"]["compact"]
    return f"{inference['speedup']:.2f}x ({sizes}; " + ("one-hot input)" if width is None else f"embedding {width})")


def row(name: str, r: dict, inference: dict | None = None) -> str:
    total, nonzero = r["weights"], r.get("nonzero_weights")
    structure = r.get("structure")
    if structure:  # Bayesian: what survives at evaluation (means with log alpha <= 3)
        lstms = [s for s in structure.values() if "units" in s]
        units = ", ".join(f"{s['hidden_neurons']}/{s['units']}" for s in lstms)
        if "model" in structure:  # non-zeros of the extracted model against the dense model's weights
            kept, total = structure["model"]["weights"], structure["model"]["weights_total"]
            weights = f"{kept:,} non-zero / {total:,} ({total / kept:.1f}x)"
        else:  # runs from before the whole-model count
            kept, lstm_total = sum(s["weights"] for s in lstms), sum(s["weights_total"] for s in lstms)
            weights = f"LSTM weights kept {kept:,} / {lstm_total:,}"
    else:
        units = ", ".join(str(h) for h in r["hidden_sizes"]) or "n/a (no ISS groups)"
        # runs from before results.json counted non-zeros report the compact model's weights only
        weights = f"{nonzero:,} non-zero / {total:,}" if nonzero is not None else f"{total:,} in the compact model"
    return (f"| {name} | {r['epochs']} | {r['valid_ppl']:.2f} | {r['test_ppl']:.2f} | {weights} | {units} | "
            f"{speedup(name, inference)} | {r['wall_s'] / 60:.1f} |")


class RunFolderError(ValueError):
    """A folder of runs that is missing or lacks a run the figure needs."""


def main(folder: str) -> None:
    names = run_names(folder)
    print("| method | epochs | valid ppl | test ppl | weights | hidden units | inference speedup (dense extract) "
          "| wall min |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        print(row(name, read_json(os.path.join(folder, name, "results.json")), read_json(os.path.join(folder, name, "inference.json"))))


def run_names(folder: str) -> list[str]:
    """The run folders (those with a results.json): the methods in their usual order, then any other run by name.

    Variants (e.g. bayes_wn, bayes_kl01 of benchmarks/methods_1x256.sh) get rows of their own; an
    extracted model's folder has no results.json and is left out.
    """
    if not os.path.isdir(folder):
        raise RunFolderError(f"{folder} is not a folder of run folders")
    runs = {name for name in os.listdir(folder) if os.path.isfile(os.path.join(folder, name, "results.json"))}
    return [m for m in METHODS if m in runs] + sorted(runs - set(METHODS))


def read_json(path: str) -> dict | None:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "runs/methods")
    except RunFolderError as e:
        sys.exit(f"Error: {e}")
