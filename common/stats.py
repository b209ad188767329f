"""Sparsity statistics: zero weights, zero rows/columns, live ISS components per layer.

`SparsityLogger` computes them at the end of each epoch and adds them to Keras' `logs`, so the
stock CSVLogger and TensorBoard callbacks that come after it in the list record them too.
"""

from __future__ import annotations

import csv
import os

import keras
import numpy as np
from absl import logging


def model_values(model, paths=None) -> dict[str, np.ndarray]:
    """Current values of the model's variables as numpy arrays, keyed by path."""
    return {v.path: np.asarray(v.numpy()) for v in model.weights if paths is None or v.path in paths}


def live_components(group, values) -> np.ndarray:
    """Boolean mask of the components of `group` that still have a non-zero weight.

    Tested with `!= 0`, not through the sum of squares: float32 squares of huge weights (a diverged
    run) overflow, and those of tiny non-zero weights underflow to 0 and would be read as removed.
    """
    live = np.zeros(group.size, dtype=bool)
    for s in group.slices:
        live |= (np.asarray(values[s.variable]) != 0).any(axis=s.axis)[s.start : s.end]
    return live


def variable_stats(w: np.ndarray) -> dict:
    zero = w == 0
    out = {"shape": list(w.shape), "size": int(w.size), "zero_fraction": float(zero.mean()) if w.size else 0.0}
    if w.ndim == 2:
        out["zero_rows"] = float(zero.all(axis=1).mean())
        out["zero_columns"] = float(zero.all(axis=0).mean())
    return out


def sparsity_stats(model, groups=(), variable_paths=None) -> dict:
    """Per-variable sparsity of the trainable weights and live components per ISS group."""
    paths = variable_paths or [v.path for v in model.trainable_weights]
    values = model_values(model)
    variables = {p: variable_stats(values[p]) for p in paths}
    total = sum(s["size"] for s in variables.values())
    zeros = sum(s["size"] * s["zero_fraction"] for s in variables.values())
    live = {}
    for g in groups:
        mask = live_components(g, values)
        live[g.name] = {"size": g.size, "live": int(mask.sum())}
    return {
        "variables": variables,
        "groups": live,
        "total_weights": int(total),
        "zero_fraction": float(zeros / total) if total else 0.0,
    }


def flatten_stats(stats: dict) -> dict[str, float]:
    """One scalar per key, for CSV columns and TensorBoard scalars."""
    flat = {"sparsity/all": stats["zero_fraction"]}
    for path, s in stats["variables"].items():
        flat[f"sparsity/{path}"] = s["zero_fraction"]
        if "zero_rows" in s:
            flat[f"zero_rows/{path}"] = s["zero_rows"]
            flat[f"zero_columns/{path}"] = s["zero_columns"]
    for name, g in stats["groups"].items():
        flat[f"live/{name}"] = g["live"]
    return flat


class SparsityLogger(keras.callbacks.Callback):
    """Logs sparsity each epoch; keeps the latest dict in `self.latest`.

    Adds the overall zero fraction (`sparsity`) and the live components of each group
    (`live/<group>`) to `logs`, so CSVLogger/TensorBoard placed after it record them; with
    `csv_path`, also writes every per-variable statistic (`flatten_stats`) to that CSV file.
    """

    def __init__(self, groups=(), variable_paths=None, csv_path=None):
        super().__init__()
        self.groups = list(groups)
        self.variable_paths = variable_paths
        self.csv_path = csv_path
        self.latest = None

    def on_epoch_end(self, epoch, logs=None):
        self.latest = sparsity_stats(self.model, self.groups, self.variable_paths)
        if logs is not None:
            logs["sparsity"] = self.latest["zero_fraction"]
            logs.update({f"live/{n}": g["live"] for n, g in self.latest["groups"].items()})
        if self.csv_path:
            append_csv_row(self.csv_path, epoch, flatten_stats(self.latest))
        live = ", ".join(f"{n}: {g['live']}/{g['size']}" for n, g in self.latest["groups"].items())
        logging.info(
            "epoch %d sparsity %.4f; live ISS components %s",
            epoch + 1,
            self.latest["zero_fraction"],
            live or "(no groups)",
        )


def append_csv_row(path: str, epoch: int, row: dict) -> None:
    """One epoch's row of a per-epoch CSV file; the header comes with the first row (a resumed run appends)."""
    new = not os.path.isfile(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", *row])
        if new:
            writer.writeheader()
        writer.writerow({"epoch": epoch, **row})
