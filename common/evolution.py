"""SET: Sparse Evolutionary Training (Mocanu et al. 2018), as SET-LSTM applies it (Liu et al. 2019).

Each chosen matrix starts with an Erdos-Renyi random mask of density
min(1, epsilon * (rows + cols) / (rows * cols)), and keeps exactly that many live weights: after
every epoch the fraction zeta of its live weights closest to zero is removed and as many dormant
positions, drawn at random, grow back with small random values. The mask is simply "w != 0", so
a checkpoint of the weights is a checkpoint of the masks too. It is enforced inside the compiled
train step: before any evolution by the fixed freeze mask of `common.pruning` (static sparse
training, `erdos_renyi_masks` alone), and while evolving by `hold_zeros_in_every_step`, which
reads the zeros from the weights at every step, so the step is compiled once per run, not once
per evolution.
"""

from __future__ import annotations

import keras
import numpy as np

from common.groups import find_variables
from common.pruning import attach_zero_threshold, hold_zeros_in_every_step


def erdos_renyi_density(shape, epsilon: float) -> float:
    rows, cols = int(shape[0]), int(np.prod(shape[1:]))
    return min(1.0, epsilon * (rows + cols) / (rows * cols))


def erdos_renyi_masks(model, paths, epsilon: float, seed: int = 0) -> dict[str, float]:
    """Zero every weight of `paths` outside a fresh Erdos-Renyi mask and freeze the zeros; returns the densities."""
    if epsilon <= 0:
        raise ValueError(f"SET epsilon must be > 0, got {epsilon}")
    return random_masks(model, paths, lambda shape: erdos_renyi_density(shape, epsilon), seed)


def random_masks(model, paths, density_of, seed: int = 0) -> dict[str, float]:
    """Keep each weight of `paths` with probability density_of(shape), zero the rest, freeze the zeros."""
    rng = np.random.default_rng(seed)
    densities = {}
    for path, v in find_variables(model, paths).items():
        density = density_of(v.shape)
        w = v.numpy()
        live = rng.random(w.shape) < density
        v.assign(np.where(live, w, 0).astype(w.dtype))
        densities[path] = float(live.mean())
    attach_zero_threshold(model, 0.0, list(paths), freeze_zeros=True)
    return densities


def prune_and_regrow(w: np.ndarray, zeta: float, rng: np.random.Generator, init_scale: float) -> np.ndarray:
    """Remove the fraction zeta of the live weights closest to zero; regrow as many at random dormant positions."""
    flat = w.ravel().copy()
    live = np.flatnonzero(flat)
    n = int(round(zeta * live.size))
    if n == 0:
        return w
    smallest = live[np.argsort(np.abs(flat[live]), kind="stable")[:n]]
    flat[smallest] = 0
    dormant = np.flatnonzero(flat == 0)
    grow = rng.choice(dormant, size=n, replace=False)
    values = rng.uniform(-init_scale, init_scale, size=n)
    values[values == 0] = init_scale  # a regrown weight must be non-zero to count as live
    flat[grow] = values
    return flat.reshape(w.shape).astype(w.dtype)


class SparseEvolution(keras.callbacks.Callback):
    """Between epochs: prune and regrow every masked matrix; its zeros are held in every step.

    It runs when an epoch after the first begins, so checkpoints and the final model hold trained
    weights (not freshly regrown ones), and a run resumed after epoch e evolves exactly as an
    uninterrupted one would (the random draws depend on the seed and the epoch only).
    """

    def __init__(self, paths, zeta: float, init_scale: float, seed: int = 0):
        super().__init__()
        if not 0.0 <= zeta < 1.0:
            raise ValueError(f"SET zeta must be in [0, 1), got {zeta}")
        self.paths, self.zeta, self.init_scale, self.seed = list(paths), float(zeta), float(init_scale), seed

    def on_train_begin(self, logs=None):
        hold_zeros_in_every_step(self.model, self.paths)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0 or self.zeta == 0:
            return
        rng = np.random.default_rng([self.seed, epoch])
        for path, v in find_variables(self.model, self.paths).items():
            v.assign(prune_and_regrow(v.numpy(), self.zeta, rng, self.init_scale))
