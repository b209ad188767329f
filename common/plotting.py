"""Weight-sparsity plot in the style of the ISS paper's figure: the non-zero pattern of each
matrix in the ISS groups, with the rows and columns of removed components shown in red."""

from __future__ import annotations

import numpy as np

from common.stats import live_components, model_values


def plot_weight_sparsity(model, groups, path: str, max_pixels: int = 800) -> str:
    """Write a PNG to `path`: one panel per grouped matrix; black = non-zero weight, red = removed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not groups:
        raise ValueError("plot_weight_sparsity draws the matrices of ISS groups; it was given none")
    values = model_values(model)
    marks: dict[str, list] = {}
    for g in groups:
        dead = np.flatnonzero(~live_components(g, values))
        for s in g.slices:
            marks.setdefault(s.variable, []).append((s.index_dim, s.start + dead))
    names = list(marks)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        w = values[name]
        nonzero = w != 0
        removed = np.zeros(w.shape, dtype=bool)
        for dim, idx in marks[name]:
            if dim == 0:
                removed[idx, :] = True
            else:
                removed[:, idx] = True
        # white = zero weight, black = non-zero, red = zero because its component was removed
        rgb = np.ones(w.shape + (3,))
        rgb[removed] = (0.9, 0.1, 0.1)
        rgb[nonzero] = 0.0
        # Show every row/column up to max_pixels, then stride (a 1500 x 6000 kernel stays legible).
        step = [max(1, d // max_pixels) for d in w.shape]
        ax.imshow(rgb[:: step[0], :: step[1]], aspect="auto", interpolation="nearest")
        ax.set_title(
            f"{name} {w.shape}: {100 * (1 - nonzero.mean()):.1f}% zero, red = removed ISS components",
            fontsize=9,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
