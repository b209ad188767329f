"""Where a Bayesian run's log alphas lie, and how many of them the KL's clip range leaves alone.

    python -m benchmarks.log_alpha runs/RUN [--edges=2.9,2.95,3,3.05,3.1]

The KL term reads log alpha clipped to [-c, c] (`--bayes_log_alpha_clip`; ours 10, Lobacheva et
al.'s and Molchanov et al.'s code 8), so a weight outside that range feels no KL at all. Below -8
our KL still pulls a weight up (about 0.5 per unit of log alpha, as strong as anywhere below 0)
where theirs has let it go: how many kept weights sit there says how much that difference can
matter for a run. Reads the run's last checkpoint (a run still training works too) and prints one
JSON line: per Bayesian variable, how many entries fall in each log-alpha interval, how many are
kept at evaluation (log alpha < 3), and the totals. For a matrix also `rows_with_kept`: the rows
that keep an entry, which for the one-hot LSTM's input kernel are the words the model still reads
(Lobacheva et al.'s logs print the same as z_x). `counted_as_lobacheva`: the kept weights of the
LSTMs and the softmax counted as their logs count them, a dead hidden unit's weights left out
(common.bayes.counted_as_lobacheva), beside which structure.csv's per-matrix counts can be read.
`--edges` replaces the interval edges, e.g. fine ones around the threshold 3 to see how many entries
a small shift of log alpha would move across it (how fragile a kept count is).
"""

from __future__ import annotations

import json
import sys

import numpy as np
from keras import ops

from common.bayes import (LOG_ALPHA_THRESHOLD, BayesianDense, BayesianLSTM, SparseVDWeights, counted_as_lobacheva,
                          kept_at_evaluation, log_alpha)
from common.experiment import restore_model
from common.run_folder import latest_checkpoint

EDGES = (-10.0, -8.0, LOG_ALPHA_THRESHOLD, 8.0, 10.0)


def interval_names(edges=EDGES) -> list[str]:
    bounds = [-np.inf, *edges, np.inf]
    return [f"[{lo:g}, {hi:g})" for lo, hi in zip(bounds, bounds[1:])]


def log_alpha_counts(layer: SparseVDWeights, name: str, edges=EDGES) -> dict:
    """Entries of one stochastic variable per log-alpha interval, the kept ones (log alpha < 3, mean not 0),
    and for a matrix the rows that keep at least one entry."""
    mu = ops.convert_to_numpy(getattr(layer, name))
    la = ops.convert_to_numpy(log_alpha(mu, layer.log_sigma2(name))).ravel()
    counts = np.histogram(la, bins=[-np.inf, *edges, np.inf])[0]
    kept = kept_at_evaluation(layer, name)
    rows = {"rows": int(kept.shape[0]), "rows_with_kept": int(kept.any(axis=1).sum())} if kept.ndim == 2 else {}
    return {"entries": int(la.size), "kept": int(kept.sum()), **rows,
            **{k: int(n) for k, n in zip(interval_names(edges), counts)}}


def run_report(run_path: str, edges=EDGES) -> dict:
    from ptb.model import TASK

    model, config, _, _ = restore_model(TASK, run_path)
    layers = [layer for layer in model.layers if isinstance(layer, SparseVDWeights)]
    if not layers:
        raise SystemExit(f"{run_path}: no Bayesian layers (a --method=bayes_structured run has them)")
    variables = {f"{layer.name}/{name}": log_alpha_counts(layer, name, edges)
                 for layer in layers for name in layer.stochastic}
    total = {k: sum(v[k] for v in variables.values()) for k in ("entries", "kept", *interval_names(edges))}
    lstms = [layer for layer in layers if isinstance(layer, BayesianLSTM)]
    softmax = next((layer for layer in layers if isinstance(layer, BayesianDense)), None)
    state, _ = latest_checkpoint(run_path)
    return {"run": run_path, "epochs": state["epoch"], "log_alpha_clip": config.bayes_log_alpha_clip,
            "sigma_variable": config.bayes_sigma_variable, "total": total, "variables": variables,
            **({"counted_as_lobacheva": counted_as_lobacheva(lstms, softmax)} if lstms else {})}


def parse_edges(text: str) -> tuple[float, ...]:
    """`--edges=A,B,...`: increasing finite numbers, or a clear error."""
    try:
        edges = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise SystemExit(f"--edges={text}: give increasing numbers separated by commas, e.g. --edges=2.9,3,3.1") from None
    if not all(np.isfinite(edges)) or any(b <= a for a, b in zip(edges, edges[1:])):
        raise SystemExit(f"--edges={text}: the edges must be finite and increasing")
    return edges


def main(argv: list[str]) -> None:
    edges = EDGES
    for arg in [a for a in argv if a.startswith("--edges=")]:
        edges = parse_edges(arg.split("=", 1)[1])
    paths = [a for a in argv if not a.startswith("--edges=")]
    if len(paths) != 1 or paths[0].startswith("--"):
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    print(json.dumps(run_report(paths[0], edges)))


if __name__ == "__main__":
    main(sys.argv[1:])
