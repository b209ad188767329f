"""A Bayesian run counted as Lobacheva et al.'s logs count, beside their log, epoch by epoch (markdown table).

    python -m benchmarks.counted_vs_lobacheva LOG_ALPHA_JSONL RUN log_lcrl.txt
    python -m benchmarks.counted_vs_lobacheva --kernels LOG_ALPHA_JSONL RUN log_lcrl.txt   # the LSTM's two kernels
    python -m benchmarks.counted_vs_lobacheva --epochs=17-31 LOG_ALPHA_JSONL RUN log_lcrl.txt  # rows 17-31 only

LOG_ALPHA_JSONL holds one `python -m benchmarks.log_alpha RUN` output per line (one per epoch, e.g. written
after each checkpoint); RUN is the ptb.train run folder, or the prefix of its copies in results/, as for
`benchmarks.epochs_vs_lobacheva`. Their logs count a weight only between live neurons; our structure.csv
counts each matrix on its own. The table sets both of our counts beside theirs: the LSTM's and the
softmax's kept weights ("per matrix" from structure.csv, "their count" from the JSONL's
`counted_as_lobacheva`), and the hidden units (the kept z_h, the live ones, their z_h).
`--kernels` splits the LSTM into its input kernel (their w_x) and recurrent kernel (their w_h), counted
their way, with the difference to theirs: where an LSTM's surplus or deficit sits.
`--epochs=A-B` lists epochs A to B only.
"""

from __future__ import annotations

import json
import os
import sys

from benchmarks.epochs_vs_lobacheva import range_flag, read_our_run, read_their_log, report, rows_or_error, usage, within


def read_counted(path: str) -> dict[int, dict]:
    """{epoch: counted_as_lobacheva} from a JSONL of benchmarks.log_alpha outputs (a later line of an epoch wins)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: give a JSONL of `python -m benchmarks.log_alpha RUN` outputs")
    counted = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                counted[int(entry["epochs"])] = entry["counted_as_lobacheva"]
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}, line {number}: not a benchmarks.log_alpha output with 'epochs' and "
                                 f"'counted_as_lobacheva' ({error})") from None
    return counted


def lstm_sum(counted: dict, part: str) -> int:
    """`part` (kernel, recurrent_kernel) summed over the lstm_* layers counted their way."""
    return sum(v[part] for k, v in counted.items() if k.startswith("lstm"))


def number(value) -> str:
    return "-" if value is None else f"{value:,}"


def difference(ours: int, theirs: int | None) -> str:
    return "-" if theirs is None else f"{ours - theirs:+,} ({100 * (ours / theirs - 1):+.1f}%)"


def count_table(counted: dict[int, dict], ours: dict[int, dict], theirs: dict[int, dict]) -> list[str]:
    lines = ["| epoch | LSTM, per matrix | LSTM, their count | LSTM theirs | softmax, per matrix | softmax, their count "
             "| softmax theirs | hidden, z_h kept | hidden, their count | hidden theirs |", "|---" * 10 + "|"]
    for epoch in sorted(counted):
        c, run, log = counted[epoch], ours.get(epoch, {}), theirs.get(epoch, {})
        kept, their_kept = run.get("kept", {}), log.get("kept", {})
        live = "; ".join(str(v["hidden_neurons"]) for k, v in c.items() if k.startswith("lstm"))
        lines.append(" | ".join([
            f"| {epoch}", number(kept.get("lstm")), number(lstm_sum(c, "kernel") + lstm_sum(c, "recurrent_kernel")),
            number(their_kept.get("lstm")), number(kept.get("softmax")),
            number(c["softmax"]["kernel"] if "softmax" in c else None), number(their_kept.get("softmax")),
            run.get("hidden", "-").split("/")[0], live, log.get("hidden", "-").split("/")[0]]) + " |")
    return lines


def kernel_table(counted: dict[int, dict], theirs: dict[int, dict]) -> list[str]:
    lines = ["| epoch | input kernel, their count | their w_x | difference | recurrent kernel, their count | their w_h "
             "| difference |", "|---" * 7 + "|"]
    for epoch in sorted(counted):
        kernels = theirs.get(epoch, {}).get("kernels", {})
        x, h = lstm_sum(counted[epoch], "kernel"), lstm_sum(counted[epoch], "recurrent_kernel")
        wx, wh = kernels.get("input"), kernels.get("recurrent")
        lines.append(f"| {epoch} | {x:,} | {number(wx)} | {difference(x, wx)} | {h:,} | {number(wh)} | {difference(h, wh)} |")
    return lines


def main(argv: list[str]) -> int:
    kernels = "--kernels" in argv
    argv = [a for a in argv if a != "--kernels"]
    try:
        argv, shown = range_flag(argv, "epochs", "17-31")
    except ValueError as error:
        print(f"counted_vs_lobacheva: {error}", file=sys.stderr)
        return 2
    if len(argv) != 4 or any(a.startswith("--") for a in argv[1:]):
        print(usage(__doc__), file=sys.stderr)
        return 2

    def build() -> list[str]:
        counted, ours, theirs = read_counted(argv[1]), read_our_run(argv[2]), read_their_log(argv[3])
        if not counted:
            raise ValueError(f"{argv[1]}: no lines")
        counted = within(counted, shown)
        return rows_or_error(kernel_table(counted, theirs) if kernels else count_table(counted, ours, theirs), shown,
                             argv[1])

    return report("counted_vs_lobacheva", build)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
