"""Our Bayesian runs next to one of Lobacheva et al.'s public training logs, epoch by epoch (markdown table).

    python -m benchmarks.epochs_vs_lobacheva runs/methods256/bayes_wn_theirmodel_adam150 log_lcrl.txt
    python -m benchmarks.epochs_vs_lobacheva [LABEL=]RUN [[LABEL=]RUN ...] log_lcrl.txt     # several runs side by side
    python -m benchmarks.epochs_vs_lobacheva --by_layer [LABEL=]RUN [...] log_lcrl.txt     # kept weights per layer
    python -m benchmarks.epochs_vs_lobacheva --by_layer --gain=10-19 [LABEL=]RUN [...] log_lcrl.txt  # + growth rates
    python -m benchmarks.epochs_vs_lobacheva --epochs=17-31 [LABEL=]RUN [...] log_lcrl.txt     # rows 17-31 only

A RUN is a ptb.train run folder (its log.csv and structure.csv), or the prefix of the copies kept
in results/ (RUN.log.csv and RUN.structure.csv, e.g. results/methods/lobacheva150/bayes_wn_theirmodel_adam150).

Their logs (tipt0p/SparseBayesianRNN, Experiments/Word_PTB/Results/log_*.txt; download them, they
are not part of this repository) print after every epoch the validation and test perplexity and
what survives: "Val (clip): 580.7377", "... (z_h: 256/256) ... Overall compression: 20.43...".
Their compression counts the weight matrices only (no biases); our column "their count" does the
same from structure.csv (the kept weights of every Bayesian layer over the layers' matrix sizes),
"model" is ours (the extracted model's non-zeros, biases included). Our log.csv has the
validation perplexity per epoch, not the test one. Only epochs present in both are listed.

`--by_layer` says where the compressions differ: the weights kept in the LSTM (their w_x + w_h,
our lstm_* layers' kernels) and in the softmax (their Dense w, our softmax layer), each after the
removed hidden neurons are taken out. An embedding, which their model lacks, is left out.
`--gain=A-B` adds how many kept weights each layer gained per epoch from epoch A to epoch B, theirs
and each run's: the rate at which the word rows come back, which tells settings apart in a few epochs.
`--epochs=A-B` lists epochs A to B only, so that a long run's later rows can be shown on their own.
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
LSTM_KEPT = re.compile(r"\(w_([xh]): (\d+)/\d+\)")  # their w_x (input kernel) and w_h (recurrent)
SOFTMAX_KEPT = re.compile(r"Dense: \(w: (\d+)/\d+\)")


def read_their_log(path: str) -> dict[int, dict]:
    """{epoch (1-based): {"valid", "test", "hidden", "compression", "kept": {"lstm", "softmax"},
    "kernels": {"input": w_x, "recurrent": w_h}}} from one of their logs."""
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
                lstm = {part: int(kept) for part, kept in LSTM_KEPT.findall(line)}
                if lstm and (softmax := SOFTMAX_KEPT.search(line)):
                    current["kept"] = {"lstm": sum(lstm.values()), "softmax": int(softmax.group(1))}
                if lstm.keys() == {"x", "h"}:
                    current["kernels"] = {"input": lstm["x"], "recurrent": lstm["h"]}
    if not epochs:
        raise ValueError(f"{path}: no 'Epoch N took' lines: not one of Lobacheva et al.'s training logs")
    return epochs


def _rows(path: str) -> list[dict]:
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def run_files(run: str) -> tuple[str, str]:
    """(log.csv, structure.csv) of a run folder, or of the copies RUN.log.csv and RUN.structure.csv."""
    if os.path.isdir(run):
        return os.path.join(run, "log.csv"), os.path.join(run, "structure.csv")
    return run + ".log.csv", run + ".structure.csv"


def labelled_run(arg: str) -> tuple[str, dict[int, dict]]:
    """LABEL=RUN or RUN (labelled by its last path component) -> (label, read_our_run(RUN))."""
    label, _, run = arg.rpartition("=") if "=" in arg and not os.path.exists(arg) else ("", "", arg)
    return label or os.path.basename(run.rstrip("/")), read_our_run(run)


def read_our_run(run: str) -> dict[int, dict]:
    """{epoch (1-based): {"valid", and from structure.csv "hidden", "their_count", "model", "kept"}} of a run (see run_files).

    "kept" is {"lstm": the kept weights of every lstm_* layer, "softmax": those of a Bayesian softmax}, as in their logs.
    """
    log, structure = run_files(run)
    if not os.path.isfile(log):
        raise FileNotFoundError(f"{log} not found: give a ptb.train run folder or the prefix of its copies")
    epochs = {int(r["epoch"]) + 1: {"valid": float(r["val_ppl"])} for r in _rows(log)}  # a resumed epoch: its last row
    for r in _rows(structure):
        entry = epochs.setdefault(int(r["epoch"]) + 1, {})
        layers = {k.split("/")[0] for k in r if k.endswith("/weights_total")}
        kept = sum(int(r[f"{layer}/weights"]) for layer in layers)
        total = sum(int(r[f"{layer}/weights_total"]) for layer in layers)
        entry["their_count"] = total / max(kept, 1)
        entry["model"] = float(r["compression"])
        entry["kept"] = {"lstm": sum(int(r[f"{layer}/weights"]) for layer in layers if layer.startswith("lstm"))}
        if "softmax" in layers:  # a run with a deterministic softmax has no count for it
            entry["kept"]["softmax"] = int(r["softmax/weights"])
        entry["hidden"] = "; ".join(f"{r[k]}/{r[k.replace('hidden_neurons', 'units')]}" for k in r
                                    if k.endswith("/hidden_neurons"))
    return epochs


def cell(entry: dict, key: str, fmt: str) -> str:
    return fmt.format(entry[key]) if key in entry else "-"


def table(ours: dict[int, dict], theirs: dict[int, dict]) -> list[str]:
    lines = ["| epoch | valid theirs | valid ours | test theirs | compression theirs | ours, their count | ours, model "
             "| hidden neurons theirs | ours |", "|---|---|---|---|---|---|---|---|---|"]
    for epoch in sorted(set(ours) & set(theirs)):
        a, b = theirs[epoch], ours[epoch]
        lines.append(f"| {epoch} | {cell(a, 'valid', '{:.2f}')} | {cell(b, 'valid', '{:.2f}')} | {cell(a, 'test', '{:.2f}')} "
                     f"| {cell(a, 'compression', '{:.2f}x')} | {cell(b, 'their_count', '{:.2f}x')} "
                     f"| {cell(b, 'model', '{:.2f}x')} | {a.get('hidden', '-')} | {b.get('hidden', '-')} |")
    return lines


def theirs_beside_ours(runs: dict[str, dict[int, dict]], theirs: dict[int, dict], groups) -> list[str]:
    """A markdown table with, per group, their column then one per run of ours, for the epochs of both.

    groups: (their column's header, our columns' header before the run's name, cell(entry, ours: bool) -> str).
    """
    names = list(runs)
    header = ["epoch"] + [h for their_header, prefix, _ in groups for h in (their_header, *(prefix + n for n in names))]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for epoch in sorted(set(theirs) & set().union(*runs.values())):
        a, ours = theirs[epoch], [runs[n].get(epoch, {}) for n in names]
        lines.append("| " + " | ".join([str(epoch)] + [c for *_, cell_of in groups
                                                        for c in (cell_of(a, False), *(cell_of(b, True) for b in ours))]) + " |")
    return lines


def side_by_side(runs: dict[str, dict[int, dict]], theirs: dict[int, dict]) -> list[str]:
    """Several of our runs (by name) beside their log: validation perplexity, compression by their count, hidden neurons."""
    return theirs_beside_ours(runs, theirs, [
        ("valid theirs", "valid ", lambda e, ours: cell(e, "valid", "{:.2f}")),
        ("compression theirs", "their count, ", lambda e, ours: cell(e, "their_count" if ours else "compression", "{:.2f}x")),
        ("hidden neurons theirs", "hidden, ", lambda e, ours: e.get("hidden", "-"))])


def by_layer(runs: dict[str, dict[int, dict]], theirs: dict[int, dict]) -> list[str]:
    """Weights kept in the LSTM and in the softmax, theirs beside each of our runs: where the compressions differ."""
    return theirs_beside_ours(runs, theirs, [
        (f"{title} theirs", f"{title} ", lambda e, ours, part=part: str(e.get("kept", {}).get(part, "-")))
        for title, part in (("LSTM", "lstm"), ("softmax", "softmax"))])


def gains(runs: dict[str, dict[int, dict]], theirs: dict[int, dict], first: int, last: int) -> list[str]:
    """Kept weights gained per epoch in the LSTM and the softmax from epoch `first` to `last`, theirs then each run."""
    lines = [f"| gained per epoch, epochs {first}-{last} | LSTM | softmax |", "|---|---|---|"]
    for name, epochs in [("theirs", theirs), *runs.items()]:
        a, b = epochs.get(first, {}).get("kept", {}), epochs.get(last, {}).get("kept", {})
        lines.append(f"| {name} | " + " | ".join(f"{(b[part] - a[part]) / (last - first):.1f}" if part in a and part in b
                                                  else "-" for part in ("lstm", "softmax")) + " |")
    return lines


def range_flag(argv: list[str], name: str, example: str) -> tuple[list[str], tuple[int, int] | None]:
    """argv without a `--NAME=A-B` flag, and (A, B) from it (None without one)."""
    flags = [a for a in argv if a.startswith(f"--{name}")]
    if not flags:
        return argv, None
    if len(flags) > 1 or not (m := re.fullmatch(rf"--{name}=(\d+)-(\d+)", flags[0])) or int(m[1]) >= int(m[2]):
        raise ValueError(f"{' '.join(flags)}: give one --{name}=A-B with epochs A < B, e.g. --{name}={example}")
    return [a for a in argv if a not in flags], (int(m[1]), int(m[2]))


def within(epochs: dict[int, dict], shown: tuple[int, int] | None) -> dict[int, dict]:
    """The epochs from shown[0] to shown[1] (all of them without a range)."""
    return epochs if shown is None else {e: v for e, v in epochs.items() if shown[0] <= e <= shown[1]}


def rows_or_error(lines: list[str], shown: tuple[int, int] | None, source: str) -> list[str]:
    """A table's lines, or a clear error when --epochs left no row in it (two header lines only)."""
    if shown and len(lines) <= 2:
        raise ValueError(f"--epochs={shown[0]}-{shown[1]}: no epoch in that range is in {source}")
    return lines


def usage(doc: str) -> str:
    """The docstring's indented command lines, printed on a wrong call (new ones need no index kept in step)."""
    return "\n".join(line for line in doc.strip().splitlines() if line.startswith("    python -m "))


def report(program: str, build) -> int:
    """Print the markdown lines build() returns (exit 0), or the OSError/ValueError it raises as one line (exit 1)."""
    try:
        lines = build()
    except (OSError, ValueError) as error:
        print(f"{program}: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def main(argv: list[str]) -> int:
    layered = "--by_layer" in argv
    argv = [a for a in argv if a != "--by_layer"]
    try:
        argv, window = range_flag(argv, "gain", "10-19")
        argv, shown = range_flag(argv, "epochs", "17-31")
    except ValueError as error:
        print(f"epochs_vs_lobacheva: {error}", file=sys.stderr)
        return 2
    if len(argv) < 3:
        print(usage(__doc__), file=sys.stderr)
        return 2

    def build() -> list[str]:
        theirs, runs = read_their_log(argv[-1]), dict(labelled_run(r) for r in argv[1:-1])
        if len(runs) < len(argv) - 2:
            raise ValueError("two runs have the same name; give each once")
        if (layered or window) and not any("kept" in e for e in theirs.values()):
            raise ValueError(f"{argv[-1]}: no per-layer counts (w_x, w_h, Dense w) to compare by layer")
        rows = within(theirs, shown)  # every table lists only epochs in their log; the gains use all of it
        lines = rows_or_error(by_layer(runs, rows) if layered else table(next(iter(runs.values())), rows)
                              if len(runs) == 1 else side_by_side(runs, rows), shown, "both their log and ours")
        return lines + ["", *gains(runs, theirs, *window)] if window else lines

    return report("epochs_vs_lobacheva", build)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
