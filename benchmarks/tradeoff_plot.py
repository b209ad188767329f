"""Test perplexity against compression for the runs of one folder, as a PNG (results/methods.md's figure).

    python -m benchmarks.tradeoff_plot runs/methods256 results/methods/tradeoff_1x256.png --published=lobacheva_1x256

Compression is the dense run's weight count over a run's non-zero weights at evaluation (a
Bayesian run: structure.model, the weights of the extracted model that are not zero), so a
sweep of one knob (e.g. --kl_weight) reads as one curve; a run trained for another number of
epochs than the dense one says so in its label. Published points are drawn hollow and
named as such: they are not our runs. They stand at their non-zero weight count over our dense
run's weights, i.e. at the same model size, since a published ratio may count another model
(PUBLISHED says whose).
"""

from __future__ import annotations

import sys

from absl import app, flags

from benchmarks.methods_table import RunFolderError, read_json, run_names

FLAGS = flags.FLAGS
flags.DEFINE_enum("published", None, ["lobacheva_1x256"], "Add published points: Lobacheva et al.'s 1 x 256 PTB runs.")

# (non-zero weights, test perplexity) of published runs. Lobacheva et al.'s 1 x 256 PTB points
# (ISS_REFERENCE.md section 6: 116.5 at 24.5x, 111.0 at 23.5x) are the last epochs of the logs in
# their public code (tipt0p/SparseBayesianRNN, Experiments/Word_PTB/Results/log_llrl.txt and
# log_lcrl.txt), whose ratios count 13,062,144 weights: their LSTM reads one-hot words (input
# weights 10,000 x 1,024), there is no embedding. The non-zero counts are what those logs list;
# plotted against our dense run's weights they sit at equal model size, not at equal ratio.
PUBLISHED = {"lobacheva_1x256": {"Lobacheva et al. W+N+G": (241_203 + 15_857 + 276_932, 116.5),
                                 "Lobacheva et al. W+N": (255_028 + 22_328 + 278_616, 111.0)}}


class TradeoffError(RunFolderError):
    pass


def tradeoff_points(folder: str) -> tuple[list[tuple[str, float, float]], list[str], int]:
    """([(run, compression, test ppl)], [runs left out, with the reason], the dense run's weights) for `folder`."""
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
    return points, left_out, dense_weights


def published_points(key: str | None, dense_weights: int) -> dict[str, tuple[float, float]]:
    """{name: (compression against our dense run, test ppl)} of PUBLISHED[key] (none without a key)."""
    return {name: (dense_weights / nonzero, ppl) for name, (nonzero, ppl) in PUBLISHED.get(key, {}).items()}


LABEL_OFFSETS = (5, -12, 17, -24, 29, -36)  # points above (+) or below (-) the marker, nearest first


def nearest_marker(box, markers: list[tuple[float, float]]) -> int:
    """Index of the marker (pixel x, y) nearest to `box` (a Bbox in pixels): the one a reader pairs the name with."""
    def distance(xy):
        x, y = xy
        return max(box.x0 - x, 0, x - box.x1) ** 2 + max(box.y0 - y, 0, y - box.y1) ** 2
    return min(range(len(markers)), key=lambda i: distance(markers[i]))


def label_without_overlap(ax, points, published: dict[str, tuple[float, float]] | None = None) -> list:
    """Name each point where the name overlaps no other name and no marker, inside the axes.

    Our runs are named above left of their markers first, published points (in red) above right
    of theirs; then below, then on the other side, then further up or down (LABEL_OFFSETS), with a
    leader line to the marker for a name not in its first place. Runs close in compression and
    perplexity (a KL sweep's neighbours) would otherwise print their names over each other. A place
    nearer to another marker than to its own is taken only when no other place is free: that name
    would read as the neighbour's but for its leader line. If no place is free, the last one is used.
    """
    from matplotlib.transforms import Bbox

    ax.figure.canvas.draw()  # settles the axes' limits and layout: overlaps are checked where names will be drawn
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    items = [(name, c, p, False) for name, c, p in points]
    items += [(name, c, p, True) for name, (c, p) in (published or {}).items()]
    half = 4  # pixels: about half a marker
    markers = [tuple(ax.transData.transform((c, p))) for _, c, p, _ in items]
    placed = [Bbox([[x - half, y - half], [x + half, y + half]]) for x, y in markers]
    left, right = (-4, "right"), (6, "left")
    labels = []
    bottom_to_top = sorted(enumerate(items), key=lambda item: item[1][2])
    for own, (name, compression, ppl, is_published) in bottom_to_top:
        sides = (right, left) if is_published else (left, right)
        places = [(side, dy) for pair in zip(LABEL_OFFSETS[::2], LABEL_OFFSETS[1::2]) for side in sides for dy in pair]
        style = {"textcoords": "offset points", "fontsize": 8, "color": "tab:red" if is_published else "black"}
        tried = []  # (place, box, free, nearest its own marker) for each place, in order of preference
        for place in places:
            (dx, ha), dy = place
            label = ax.annotate(name, (compression, ppl), xytext=(dx, dy), ha=ha, **style)
            box = label.get_window_extent(renderer)
            label.remove()
            inside_axes = inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)
            free = inside_axes and not any(box.overlaps(other) for other in placed)
            tried.append((place, box, free, nearest_marker(box, markers) == own))
            if free and tried[-1][3]:
                break
        # a free place where the name reads as its own, else any free place, else the last one tried
        free_places = [t for t in tried if t[2]]
        place, box, _, reads_as_own = next((t for t in free_places if t[3]), (free_places or tried[-1:])[0])
        (dx, ha), dy = place
        leader = {}
        if place != places[0] or not reads_as_own:  # a thin leader line says whose name it is
            leader = {"arrowprops": {"arrowstyle": "-", "lw": 0.5, "color": "0.5", "shrinkB": 3}}
        label = ax.annotate(name, (compression, ppl), xytext=(dx, dy), ha=ha, **style, **leader)
        placed.append(box)
        labels.append(label)
    return labels


def plot_tradeoff(points, path: str, published: dict[str, tuple[float, float]] | None = None) -> str:
    """Write the PNG: one filled, labelled marker per run, hollow ones for published points; log compression axis."""
    fig, _ = tradeoff_figure(points, published)
    import matplotlib.pyplot as plt  # after tradeoff_figure has chosen the Agg backend

    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def tradeoff_figure(points, published: dict[str, tuple[float, float]] | None = None) -> tuple:
    """(the figure, its name labels): plot_tradeoff's drawing, kept apart so that tests can measure the labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, compression, ppl) in enumerate(points):
        ax.plot(compression, ppl, "o", color="tab:blue", label="our runs" if i == 0 else None)
    for i, (name, (compression, ppl)) in enumerate((published or {}).items()):
        ax.plot(compression, ppl, "s", mfc="none", color="tab:red", label="published" if i == 0 else None)
    xs = [p[1] for p in points] + [c for c, _ in (published or {}).values()]
    ax.set_xscale("log")
    ax.set_xlim(min(xs) / 1.5, max(xs) * 4)  # room for the labels right of the last points
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("compression (dense weights / non-zero weights)")
    ax.set_ylabel("test perplexity")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()  # before the labels: their overlap is checked where they will be drawn
    return fig, label_without_overlap(ax, points, published)


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: python -m benchmarks.tradeoff_plot RUNS_FOLDER OUTPUT.png [--published=lobacheva_1x256]")
    try:
        points, left_out, dense_weights = tradeoff_points(argv[1])
    except RunFolderError as e:  # no such folder, or no dense run in it
        sys.exit(f"Error: {e}")
    for name, compression, ppl in points:
        print(f"{name}: {compression:.2f}x, test ppl {ppl:.2f}")
    for reason in left_out:
        print(f"left out {reason}")
    published = published_points(FLAGS.published, dense_weights)
    for name, (compression, ppl) in published.items():
        nonzero = PUBLISHED[FLAGS.published][name][0]
        print(f"{name} (published): {nonzero:,} non-zero weights = {compression:.2f}x of our dense "
              f"{dense_weights:,}, test ppl {ppl:.2f}")
    print(f"Wrote {plot_tradeoff(points, argv[2], published)}")


if __name__ == "__main__":
    app.run(main)
