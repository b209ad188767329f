"""Test perplexity against compression for the runs of one folder, as a PNG (results/methods.md's figure).

    python -m benchmarks.tradeoff_plot runs/methods256 results/methods/tradeoff_1x256.png --published=lobacheva_1x256

Compression is the dense run's weight count over a run's non-zero weights at evaluation (a
Bayesian run: structure.model, the weights of the extracted model that are not zero), so a
sweep of one knob (e.g. --kl_weight) reads as one curve; a run trained for another number of
epochs than the dense one says so in its label. Published points are drawn hollow and
named as such: they come from ../shared/reference/ISS_REFERENCE.md, not from a run.
"""

from __future__ import annotations

import sys

from absl import app, flags

from benchmarks.methods_table import RunFolderError, read_json, run_names

FLAGS = flags.FLAGS
flags.DEFINE_enum("published", None, ["lobacheva_1x256"], "Add published points: Lobacheva et al.'s 1 x 256 PTB runs.")

# (compression, test perplexity), ISS_REFERENCE.md section 6
PUBLISHED = {"lobacheva_1x256": {"Lobacheva et al. W+N+G": (24.5, 116.5), "Lobacheva et al. W+N": (23.5, 111.0)}}


class TradeoffError(RunFolderError):
    pass


def tradeoff_points(folder: str) -> tuple[list[tuple[str, float, float]], list[str]]:
    """([(run, compression, test ppl)], [runs left out, with the reason]) for the run folders under `folder`."""
    names = run_names(folder)
    if "dense" not in names:
        raise TradeoffError(f"{folder} has no dense/results.json: compression is measured against the dense run")
    results = {name: read_json(f"{folder}/{name}/results.json") for name in names}
    dense_weights = results["dense"]["weights"]
    dense_epochs = results["dense"].get("epochs")
    points, left_out = [], []
    for name, r in results.items():
        model = r.get("structure", {}).get("model")
        if model:
            nonzero = model["weights"]
        elif "structure" in r:  # a Bayesian run from before the whole-model count: LSTM weights only
            left_out.append(f"{name}: no whole-model count in results.json")
            continue
        else:  # runs from before results.json counted non-zeros stored only their compact weights
            nonzero = r.get("nonzero_weights", r["weights"])
        epochs = r.get("epochs", dense_epochs)
        label = name if epochs == dense_epochs else f"{name} ({epochs} epochs)"
        points.append((label, dense_weights / nonzero, r["test_ppl"]))
    return points, left_out


LABEL_OFFSETS = (5, -12, 17, -24, 29, -36, 41, -48)  # points above (+) or below (-) the marker, nearest first


def label_without_overlap(ax, points) -> list:
    """Name each run left of its marker, at the nearest height where the name overlaps no other.

    Runs close in compression and perplexity (a KL sweep's neighbours) would otherwise print their
    names over each other; the first free offset of LABEL_OFFSETS is taken (the last one if none is),
    with a leader line to the marker when it is not one of the two nearest.
    """
    renderer = ax.figure.canvas.get_renderer()
    placed, labels = [], []
    for name, compression, ppl in sorted(points, key=lambda point: -point[2]):  # top to bottom
        for dy in LABEL_OFFSETS:
            label = ax.annotate(name, (compression, ppl), textcoords="offset points", xytext=(-4, dy), ha="right",
                                fontsize=8)
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed) or dy == LABEL_OFFSETS[-1]:
                break
            label.remove()
        if abs(dy) > 12:  # moved away from its marker: a thin leader line says whose name it is
            label.remove()
            label = ax.annotate(name, (compression, ppl), textcoords="offset points", xytext=(-4, dy), ha="right",
                                fontsize=8, arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.5", "shrinkB": 3})
        placed.append(box)
        labels.append(label)
    return labels


def plot_tradeoff(points, path: str, published: dict[str, tuple[float, float]] | None = None) -> str:
    """Write the PNG: one filled, labelled marker per run, hollow ones for published points; log compression axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, compression, ppl) in enumerate(points):
        ax.plot(compression, ppl, "o", color="tab:blue", label="our runs" if i == 0 else None)
    for i, (name, (compression, ppl)) in enumerate((published or {}).items()):
        ax.plot(compression, ppl, "s", mfc="none", color="tab:red", label="published" if i == 0 else None)
        ax.annotate(name, (compression, ppl), textcoords="offset points", xytext=(6, -3), fontsize=8, color="tab:red")
    xs = [p[1] for p in points] + [c for c, _ in (published or {}).values()]
    ax.set_xscale("log")
    ax.set_xlim(min(xs) / 1.5, max(xs) * 4)  # room for the labels right of the last points
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("compression (dense weights / non-zero weights)")
    ax.set_ylabel("test perplexity")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()  # before the labels: their overlap is checked where they will be drawn
    label_without_overlap(ax, points)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: python -m benchmarks.tradeoff_plot RUNS_FOLDER OUTPUT.png [--published=lobacheva_1x256]")
    try:
        points, left_out = tradeoff_points(argv[1])
    except RunFolderError as e:  # no such folder, or no dense run in it
        sys.exit(f"Error: {e}")
    for name, compression, ppl in points:
        print(f"{name}: {compression:.2f}x, test ppl {ppl:.2f}")
    for reason in left_out:
        print(f"left out {reason}")
    print(f"Wrote {plot_tradeoff(points, argv[2], PUBLISHED.get(FLAGS.published))}")


if __name__ == "__main__":
    app.run(main)
