"""Our Bayesian run next to one of Lobacheva et al.'s public training logs, epoch by epoch (markdown table).

    python -m benchmarks.epochs_vs_lobacheva runs/methods256/bayes_wn_theirmodel_adam150 log_lcrl.txt

Their logs (tipt0p/SparseBayesianRNN, Experiments/Word_PTB/Results/log_*.txt; download them, they
are not part of this repository) print after every epoch the validation and test perplexity and
what survives: "Val (clip): 580.7377", "... (z_h: 256/256) ... Overall compression: 20.43...".
Their compression counts the weight matrices only (no biases); our column "their count" does the
same from structure.csv (the kept weights of every Bayesian layer over the layers' matrix sizes),
"model" is ours (the extracted model's non-zeros, biases included). Our log.csv has the
validation perplexity per epoch, not the test one. Only epochs present in both are listed.
"""

from __future__ import annotations

import csv
import os
import re
import sys

EPOCH = re.compile(r"^Epoch (\d+) took")
VALID = re.compile(r"^Val \(clip\): ([\d.]+)")
TEST = re.compile(r"^Test \(clip\): ([\d.]+)")
HIDDEN = re.compile(r"z_h: (\d+)/(\d+)")
COMPRESSION = re.compile(r"Overall compression: ([\d.]+)")


def read_their_log(path: str) -> dict[int, dict]:
    """{epoch (1-based): {"valid", "test", "hidden", "compression"}} from one of their training logs."""
    epochs, current = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if m := EPOCH.match(line):
                current = epochs.setdefault(int(m.group(1)), {})
            elif current is None:
                continue
            elif m := VALID.match(line):
                current["valid"] = float(m.group(1))
            elif m := TEST.match(line):
                current["test"] = float(m.group(1))
            if current is not None and (m := COMPRESSION.search(line)):
                current["compression"] = float(m.group(1))
                if h := HIDDEN.search(line):
                    current["hidden"] = f"{h.group(1)}/{h.group(2)}"
    if not epochs:
        raise ValueError(f"{path}: no 'Epoch N took' lines: not one of Lobacheva et al.'s training logs")
    return epochs


def _rows(path: str) -> list[dict]:
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_our_run(run: str) -> dict[int, dict]:
    """{epoch (1-based): {"valid", and from structure.csv "hidden", "their_count", "model"}} of a run folder."""
    log = os.path.join(run, "log.csv")
    if not os.path.isfile(log):
        raise FileNotFoundError(f"{log} not found: give a ptb.train run folder")
    epochs = {int(r["epoch"]) + 1: {"valid": float(r["val_ppl"])} for r in _rows(log)}
    for r in _rows(os.path.join(run, "structure.csv")):
        entry = epochs.setdefault(int(r["epoch"]) + 1, {})
        layers = {k.split("/")[0] for k in r if k.endswith("/weights_total")}
        kept = sum(int(r[f"{layer}/weights"]) for layer in layers)
        total = sum(int(r[f"{layer}/weights_total"]) for layer in layers)
        entry["their_count"] = total / max(kept, 1)
        entry["model"] = float(r["compression"])
        entry["hidden"] = "; ".join(f"{r[k]}/{r[k.replace('hidden_neurons', 'units')]}" for k in r
                                    if k.endswith("/hidden_neurons"))
    return epochs


def table(ours: dict[int, dict], theirs: dict[int, dict]) -> list[str]:
    def cell(entry, key, fmt):
        return fmt.format(entry[key]) if key in entry else "-"

    lines = ["| epoch | valid theirs | valid ours | test theirs | compression theirs | ours, their count | ours, model "
             "| hidden neurons theirs | ours |", "|---|---|---|---|---|---|---|---|---|"]
    for epoch in sorted(set(ours) & set(theirs)):
        a, b = theirs[epoch], ours[epoch]
        lines.append(f"| {epoch} | {cell(a, 'valid', '{:.2f}')} | {cell(b, 'valid', '{:.2f}')} | {cell(a, 'test', '{:.2f}')} "
                     f"| {cell(a, 'compression', '{:.2f}x')} | {cell(b, 'their_count', '{:.2f}x')} "
                     f"| {cell(b, 'model', '{:.2f}x')} | {a.get('hidden', '-')} | {b.get('hidden', '-')} |")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        lines = table(read_our_run(argv[1]), read_their_log(argv[2]))
    except (OSError, ValueError) as error:
        print(f"epochs_vs_lobacheva: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
