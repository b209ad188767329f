"""The benchmark scripts run in a quick mode (tiny shapes) and report their figures."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_train_throughput_quick_mode(tmp_path):
    out = tmp_path / "t.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.train_throughput", "--hidden_size=8", "--num_steps=4", "--batch_size=2",
         "--vocab_size=30", "--steps=3", "--rounds=1", "--variants=plain_keras,ours_dense,ours_iss", f"--output={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report["variants"]) == {"plain_keras", "ours_dense", "ours_iss"}
    assert all(v["words_per_sec"] > 0 for v in report["variants"].values())
    assert "ISS overhead over plain Keras" in proc.stdout


def test_mult_add_reduction_of_the_paper_shapes():
    from benchmarks.inference import mult_adds_per_step

    base = mult_adds_per_step(1500, [1500, 1500], 10000)
    assert base == 4 * 1500 * 3000 * 2 + 1500 * 10000
    assert f"{base / mult_adds_per_step(1500, [373, 315], 10000):.2f}" == "7.49"  # paper: 7.48x
    assert f"{base / mult_adds_per_step(1500, [381, 535], 10000):.2f}" == "5.01"  # paper: 5.01x


@pytest.mark.slow
def test_inference_benchmark_quick_mode(tmp_path):
    out = tmp_path / "i.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.inference", "--hidden_sizes=5,3", "--baseline_sizes=8,8", "--embedding_size=8",
         "--baseline_embedding_size=12", "--vocab_size=40", "--repeats=2", "--rounds=1", "--hoist_inputs", "--xla",
         f"--output={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["speedup"] > 0 and report["hidden_sizes"] == {"compact": [5, 3], "baseline": [8, 8]}
    assert report["embedding_size"] == {"compact": 8, "baseline": 12} and not any(report["one_hot_input"].values())
    assert report["hoist_inputs"] is True and "input products hoisted" in proc.stdout
    assert report["xla"] is True and "(XLA)" in proc.stdout
    assert "speedup" in proc.stdout and "mult-add reduction" in proc.stdout
    # one round: the round-by-round range is that round's ratio, the speedup itself
    assert report["speedup_over_rounds"] == pytest.approx([report["speedup"]] * 2)
    assert "round by round" in proc.stdout and report["rounds"] == 1 and report["repeats"] == 2


def test_inference_benchmark_refuses_zero_rounds():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.inference", "--hidden_sizes=5", "--baseline_sizes=8", "--rounds=0"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode != 0 and "--rounds must be at least 1" in proc.stderr


def test_timed_models_take_turns_going_first():
    """A cost of going first in a round (or a drift of the machine) must not fall on one model only."""
    from benchmarks.inference import _alternate

    calls = []
    samples = _alternate({"compact": lambda x: calls.append("c"), "baseline": lambda x: calls.append("b")},
                         {"compact": None, "baseline": None}, repeats=2, rounds=3)
    assert calls[6:] == list("ccbb" "bbcc" "ccbb")  # after three warm-up calls of each
    assert [len(r) for r in samples["compact"]] == [2, 2, 2] and len(samples["baseline"]) == 3


def test_speedup_over_rounds_is_the_range_of_per_round_ratios():
    from benchmarks.inference import median_latency, speedup_over_rounds

    samples = {"baseline": [[2.0, 2.2, 9.0], [3.0, 3.0, 3.1]], "compact": [[1.0, 1.1, 1.0], [2.0, 2.0, 1.9]]}
    assert speedup_over_rounds(samples) == pytest.approx([1.5, 2.2])
    assert median_latency(samples["baseline"]) == pytest.approx(3.0)


def test_inference_benchmark_of_one_hot_input_models_counts_the_input_product(tmp_path):
    from benchmarks.inference import mult_adds_per_step

    assert mult_adds_per_step(8, [5], 40, one_hot=True) == 4 * 5 * (40 + 5) + 5 * 40  # the one-hot word is multiplied
    out = tmp_path / "i.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.inference", "--hidden_sizes=5", "--baseline_sizes=8", "--vocab_size=40",
         "--one_hot_input", "--repeats=2", "--rounds=1", f"--output={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["one_hot_input"] == {"compact": True, "baseline": True} and "one-hot input" in proc.stdout
    assert report["embedding_size"] == {"compact": None, "baseline": None}
    assert report["weights"]["compact"] == 40 * 20 + 5 * 20 + 20 + 5 * 40 + 40  # [V, 4H] input kernel, no embedding
    assert report["mult_adds"]["baseline"] == (4 * 8 * (40 + 8) + 8 * 40) * 10 * 30


def test_step_time_quick_mode():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.step_time", "--task=rhn", "--model=test", "--steps=2", "--warmup=1",
         "--vocab_size=50", "--train_tokens=2000"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["step_ms"] > 0 and report["steps_per_epoch"] == 2000 // (4 * 5)
    assert report["epoch_min"] == pytest.approx(report["step_ms"] * report["steps_per_epoch"] / 60000)


@pytest.mark.slow
def test_step_time_of_a_run_folder_times_that_runs_model(tmp_path):
    """--run: the model of a run's config.json (here a one-hot Bayesian one), at that run's vocabulary size."""
    import dataclasses

    from ptb.config import PRESETS

    config = dataclasses.replace(PRESETS["test"], kl_weight=1e-4, bayes_layers="all", one_hot_input=True, hidden_size=6)
    (tmp_path / "config.json").write_text(json.dumps({"task": "ptb", "config": config.to_json(), "vocab_size": 30}))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.step_time", "--task=ptb", f"--run={tmp_path}", "--steps=2", "--warmup=1",
         "--train_tokens=2000"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["config"] == json.loads(json.dumps(config.to_json())) and report["run"] == str(tmp_path)
    assert report["steps_per_epoch"] == 2000 // (config.batch_size * config.num_steps) and report["step_ms"] > 0
    assert report["penalty_terms"] == ["LogUniformKL"]

    proc = subprocess.run(  # the same model with the KL left out of the loss
        [sys.executable, "-m", "benchmarks.step_time", "--task=ptb", f"--run={tmp_path}", "--steps=1", "--warmup=1",
         "--without_penalty"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["penalty_terms"] == [] and report["config"] == json.loads(json.dumps(config.to_json()))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.step_time", "--task=bidaf", "--without_penalty"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode != 0 and "--without_penalty is for the language models" in proc.stderr

    (tmp_path / "config.json").unlink()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.step_time", "--task=ptb", f"--run={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode != 0 and "no config.json in" in proc.stderr


def test_methods_table_reads_each_run(tmp_path, capsys):
    from benchmarks.methods_table import main, row, speedup

    common = {"epochs": 1, "valid_ppl": 100.0, "test_ppl": 95.5, "wall_s": 60.0, "weights": 1000}
    (tmp_path / "iss").mkdir()
    (tmp_path / "iss" / "results.json").write_text(json.dumps({**common, "nonzero_weights": 800, "hidden_sizes": [5, 7]}))
    (tmp_path / "bayes").mkdir()
    structure = {"lstm_0": {"weights": 10, "weights_total": 40, "hidden_neurons": 3, "units": 4}}
    (tmp_path / "bayes" / "results.json").write_text(json.dumps({**common, "nonzero_weights": 999, "hidden_sizes": [],
                                                                 "structure": structure}))
    (tmp_path / "bayes" / "inference.json").write_text(json.dumps({
        "speedup": 1.456, "hidden_sizes": {"compact": [3], "baseline": [4]}, "embedding_size": {"compact": 6, "baseline": 8}}))
    (tmp_path / "dense").mkdir()  # an older run: no nonzero_weights in its results.json
    (tmp_path / "dense" / "results.json").write_text(json.dumps({**common, "hidden_sizes": [8, 8]}))
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "results.json").write_text(json.dumps({**common, "nonzero_weights": 500, "hidden_sizes": [4]}))
    (tmp_path / "bayes_wn").mkdir()  # a variant of a method: its own row, after the methods
    (tmp_path / "bayes_wn" / "results.json").write_text(json.dumps({**common, "hidden_sizes": [], "structure": structure}))
    (tmp_path / "bayes_dense").mkdir()  # an extracted model, no results.json: no row
    (tmp_path / "bayes_dense" / "config.json").write_text("{}")
    main(str(tmp_path))
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| dense | 1 | 100.00 | 95.50 | 1,000 in the compact model | 8, 8 | 1 (baseline) | 1.0 |"
    assert lines[3] == "| iss | 1 | 100.00 | 95.50 | 800 non-zero / 1,000 | 5, 7 | not measured | 1.0 |"
    assert lines[4] == "| set | 1 | 100.00 | 95.50 | 500 non-zero / 1,000 | 4 | none: unstructured masks | 1.0 |"
    assert lines[5] == "| bayes | 1 | 100.00 | 95.50 | LSTM weights kept 10 / 40 | 3/4 | 1.46x (3; embedding 6) | 1.0 |"
    assert lines[6] == "| bayes_wn | 1 | 100.00 | 95.50 | LSTM weights kept 10 / 40 | 3/4 | not measured | 1.0 |"
    assert len(lines) == 7  # runs that are absent are left out
    # a run with the whole-model count: the extract's non-zeros against the dense model, and the ratio
    structure.update(embedding={"weights": 5, "weights_total": 20}, model={"weights": 250, "weights_total": 1000})
    assert row("bayes", {**common, "structure": structure}).startswith(
        "| bayes | 1 | 100.00 | 95.50 | 250 non-zero / 1,000 (4.0x) | 3/4 | not measured |")
    one_hot = {"speedup": 1.2, "hidden_sizes": {"compact": [3], "baseline": [4]}, "embedding_size": {"compact": None}}
    assert speedup("bayes", one_hot) == "1.20x (3; one-hot input)"  # a --one_hot_input run has no embedding width


@pytest.mark.slow
def test_device_parallel_runs_together_and_a_stopped_run_still_reports(tiny_corpus, tmp_path):
    """benchmarks/device_parallel.sh (the GPU runs' launcher), on CPU with JAX as on the GPU: two runs, one stopped early."""
    import tarfile
    import time

    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir(), out.mkdir()
    (work / "benchmarks").symlink_to(os.path.join(ROOT, "benchmarks"))
    env = {**os.environ, "PYTHONPATH": ROOT, "OUT": str(out), "DATA": str(tiny_corpus), "BUDGET_S": "300", "KERAS_BACKEND": "jax",
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}

    def script(*args, timeout=60):
        proc = subprocess.run(["bash", "benchmarks/device_parallel.sh", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    script("start", "full", "--model=test", "--max_max_epoch=2")
    script("start", "cut", "--model=test", "--max_max_epoch=1000")
    log = work / "runs/device/cut/log.csv"
    deadline = time.time() + 300
    while not (log.exists() and len(log.read_text().splitlines()) >= 3):  # header + 2 finished epochs
        assert time.time() < deadline, (work / "runs/device/cut.out").read_text()[-2000:]
        time.sleep(1)
    assert "stopped cut" in script("stop", "cut")
    printed = script("watch", "300", timeout=330)
    assert "== full (finished)" in printed and "== cut (finished)" in printed

    def packed(name):
        with tarfile.open(out / f"{name}.tgz") as tar:
            return {os.path.basename(n): tar.extractfile(n).read() for n in tar.getnames() if tar.getmember(n).isfile()}

    full, cut = packed("full"), packed("cut")
    assert {"results.json", "kept_units.npz", "compact_evaluate.log", "log.csv", "train.log"} <= set(full)
    assert "results.json" not in cut  # it never finished: its numbers come from the shortened evaluation
    assert {"shortened_evaluate.log", "kept_units.npz", "compact_evaluate.log"} <= set(cut)
    assert b"Test Perplexity" in cut["shortened_evaluate.log"]
    assert not any(n.endswith(".h5") or "checkpoint" in n for n in [*full, *cut])  # the large files stay behind


def test_tradeoff_points_measure_compression_against_the_dense_run(tmp_path):
    import matplotlib.image

    from benchmarks.methods_table import RunFolderError
    from benchmarks.tradeoff_plot import TradeoffError, plot_tradeoff, published_points, tradeoff_points

    def write(name, **results):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"test_ppl": 100.0, "weights": 1000, **results}))

    with pytest.raises(RunFolderError, match="is not a folder of run folders"):
        tradeoff_points(str(tmp_path / "absent"))
    write("iss", nonzero_weights=400, hidden_sizes=[3])
    with pytest.raises(TradeoffError, match="no dense/results.json"):
        tradeoff_points(str(tmp_path))
    write("dense", test_ppl=90.0, nonzero_weights=1000, epochs=13)
    write("bayes_kl01", test_ppl=95.0, weights=1000, structure={"model": {"weights": 125, "weights_total": 1000}},
          epochs=24)
    write("bayes", structure={"lstm_0": {"weights": 10, "weights_total": 40}})  # before the whole-model count
    points, left_out, dense_weights = tradeoff_points(str(tmp_path))
    # a longer schedule than the dense run's is named in the label
    assert points == [("dense", 1.0, 90.0), ("iss", 2.5, 100.0), ("bayes_kl01 (24 epochs)", 8.0, 95.0)]
    assert left_out == ["bayes: no whole-model count in results.json"] and dense_weights == 1000
    # published points at their non-zero count over our dense weights: Lobacheva et al.'s 23.5x counts
    # 13,062,144 weights (one-hot input), our 1 x 256 has 5,655,312, so their W+N model is 10.17x of ours
    published = published_points("lobacheva_1x256", 5_655_312)
    assert published["Lobacheva et al. W+N"] == pytest.approx((5_655_312 / 555_972, 111.0))
    assert 13_062_144 / 555_972 == pytest.approx(23.5, abs=0.01) and 13_062_144 / 533_992 == pytest.approx(24.5, abs=0.05)
    assert published_points(None, 1000) == {}
    image = matplotlib.image.imread(plot_tradeoff(points, str(tmp_path / "t.png"), published_points("lobacheva_1x256", 1000)))
    red = (image[..., 0] > 0.7) & (image[..., 1] < 0.5) & (image[..., 2] < 0.5)  # the published points and labels
    assert image.ndim == 3 and red.sum() > 20


def test_tradeoff_labels_of_crowded_runs_do_not_overlap():
    """Runs within 1.2 perplexity points at 17-18x (a KL sweep's neighbours) and a published point keep
    readable names: no two overlap, none covers a marker, and a name moved from its first place, or
    nearer another marker than its own (these markers are a few pixels apart), has a leader."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.text

    from benchmarks.tradeoff_plot import label_without_overlap, nearest_marker

    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = [("bayes_kl03", 17.18, 116.34), ("bayes_wn_kl03", 18.06, 115.60), ("long_run (24 epochs)", 17.87, 115.18),
              ("dense", 1.0, 119.2), ("bayes", 56.24, 147.52)]  # the last one stretches the axis as in the real plot
    published = {"Lobacheva et al. W+N+G": (10.59, 116.5)}
    ax.plot([c for _, c, _ in points] + [10.59], [p for _, _, p in points] + [116.5], "o")
    ax.set_xscale("log")
    labels = label_without_overlap(ax, points, published)
    renderer = fig.canvas.get_renderer()
    for label in labels:
        label.update_positions(renderer)
    boxes = [matplotlib.text.Text.get_window_extent(label, renderer) for label in labels]  # the words, not the leader
    assert [label.get_text() for label in labels] == ["long_run (24 epochs)", "bayes_wn_kl03", "bayes_kl03",
                                                     "Lobacheva et al. W+N+G", "dense", "bayes"]  # bottom to top
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    markers = [ax.transData.transform(xy) for xy in [(c, p) for _, c, p in points] + [(10.59, 116.5)]]
    assert not any(box.contains(x, y) for box in boxes for x, y in markers)
    own_marker = {name: i for i, name in enumerate([name for name, _, _ in points] + list(published))}
    read_as_own = [nearest_marker(box, markers) == own_marker[label.get_text()] for box, label in zip(boxes, labels)]
    assert all(own or label.arrow_patch is not None for own, label in zip(read_as_own, labels))  # else a leader
    first_place = [label.xyann == ((6, 5) if label.get_color() == "tab:red" else (-4, 5)) for label in labels]
    assert not all(first_place) and all(first or label.arrow_patch is not None for first, label in zip(first_place, labels))
    assert labels[3].get_color() == "tab:red"
    plt.close(fig)


def test_tradeoff_names_read_as_their_own_runs():
    """In the figure of results/methods.md (after the initialization fix) every name is nearer its own
    marker than any other: two runs one point apart at 17x once had their names read as swapped."""
    import matplotlib.pyplot as plt
    import matplotlib.text

    from benchmarks.tradeoff_plot import nearest_marker, tradeoff_figure

    points = [("dense", 1.0, 120.72), ("bayes", 55.52, 148.31), ("bayes_kl03", 17.19, 117.76),
              ("bayes_wn", 62.0, 144.26), ("bayes_wn_kl02", 10.55, 112.91), ("bayes_wn_kl02_seq", 10.66, 113.58),
              ("bayes_wn_kl03", 17.61, 116.69), ("bayes_wn_kl04", 23.48, 120.17), ("bayes_wn_lr10", 29.03, 139.43)]
    published = {"Lobacheva et al. W+N+G": (10.59, 116.5), "Lobacheva et al. W+N": (10.17, 111.0)}
    fig, labels = tradeoff_figure(points, published)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    markers = [tuple(ax.transData.transform((c, p))) for c, p in [(c, p) for _, c, p in points] + list(published.values())]
    names = [name for name, _, _ in points] + list(published)
    for label in labels:
        label.update_positions(renderer)
        box = matplotlib.text.Text.get_window_extent(label, renderer)
        assert names[nearest_marker(box, markers)] == label.get_text()
    assert len(labels) == len(names)
    plt.close(fig)


THEIR_LOG = """10000
Training ...
Epoch 1 took 74.391s \t loss = -2.65, \t grad norm = 2.07,\t0.34
Train (clip): 1001.9566
Val (clip): 580.7377
Test (clip): 563.0969
Testing took 1.223s
Compression per layers:
LSTM: (z_x: 3481/10000) (z_h: 256/256) (gates: 985/1024) (w_x: 42139/10240000) Dense: (w: 521359/2560000) Overall compression: 20.4360710983
Epoch 2 took 74.898s \t loss = -3.12, \t grad norm = 1.17,\t0.34
Train (clip): 581.7699
Val (clip): 378.0864
Test (clip): 365.4886
Compression per layers:
LSTM: (z_x: 6344/10000) (z_h: 250/256) (gates: 1019/1024) (w_x: 78030/10240000) (w_h: 66298/262144) Dense: (w: 430518/2560000) Overall compression: 22.722857948
"""


def make_run(folder, structure_rows: dict[int, dict], val_ppl=(580.51, 364.41)):
    """A ptb.train run folder with log.csv (val_ppl per epoch) and structure.csv (a row per given epoch)."""
    from common.stats import append_csv_row

    folder.mkdir()
    (folder / "log.csv").write_text("epoch,val_ppl\n" + "".join(f"{i},{v}\n" for i, v in enumerate(val_ppl)))
    for epoch, row in structure_rows.items():
        append_csv_row(str(folder / "structure.csv"), epoch, row)
    return folder


def test_epochs_vs_lobacheva_puts_our_epochs_next_to_their_log(tmp_path, capsys):
    from benchmarks.epochs_vs_lobacheva import main, read_their_log

    log = tmp_path / "log_lcrl.txt"
    log.write_text(THEIR_LOG)
    assert read_their_log(str(log))[2] == {"valid": 378.0864, "test": 365.4886, "compression": 22.722857948,
                                           "hidden": "250/256", "kept": {"lstm": 78030 + 66298, "softmax": 430518},
                                           "kernels": {"input": 78030, "recurrent": 66298}}
    assert "kernels" not in read_their_log(str(log))[1]  # their first epoch prints no w_h
    run = make_run(tmp_path / "run", {epoch: {  # structure.csv began at the second epoch
        "nonzero_weights": kept + 30, "weights": 2030, "compression": 2030 / (kept + 30), "lstm_0/weights": kept - 100,
        "lstm_0/weights_total": 1000, "lstm_0/hidden_neurons": 7, "lstm_0/units": 8, "softmax/weights": 100,
        "softmax/weights_total": 1000} for epoch, kept in ((1, 500), (2, 400))}, val_ppl=(580.51, 364.41, 294.13))
    assert main(["x", str(run), str(log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| 1 | 580.74 | 580.51 | 563.10 | 20.44x | - | - | 256/256 | - |"
    assert lines[3] == "| 2 | 378.09 | 364.41 | 365.49 | 22.72x | 4.00x | 3.83x | 250/256 | 7/8 |"
    assert len(lines) == 4  # epoch 3: not in their log
    assert main(["x", str(run), str(run / "log.csv")]) == 1
    assert "not one of Lobacheva et al.'s training logs" in capsys.readouterr().err
    for name in ("log.csv", "structure.csv"):  # the copies kept in results/: RUN.log.csv, RUN.structure.csv
        (tmp_path / f"copy.{name}").write_text((run / name).read_text().replace("364.41", "370.00"))
    assert main(["x", str(run), f"before={tmp_path / 'copy'}", str(log)]) == 0  # several runs side by side
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| epoch | valid theirs | valid run | valid before | compression theirs | their count, run |")
    assert lines[1] == "|---" * lines[0].count(" | ") + "|---|"  # as many columns as the header: else no table
    assert lines[3] == "| 2 | 378.09 | 364.41 | 370.00 | 22.72x | 4.00x | 4.00x | 250/256 | 7/8 | 7/8 |"
    assert main(["x", str(run), f"run={tmp_path / 'copy'}", str(log)]) == 1
    assert "two runs have the same name" in capsys.readouterr().err


def test_epochs_vs_lobacheva_by_layer_puts_the_kept_weights_of_the_lstm_and_softmax_beside_theirs(tmp_path, capsys):
    from benchmarks.epochs_vs_lobacheva import main

    log = tmp_path / "log_lcrl.txt"
    log.write_text(THEIR_LOG)
    run = make_run(tmp_path / "run", {1: {  # an embedding too: their model has none, so it is left out
        "nonzero_weights": 999, "weights": 4000, "compression": 4.0, "embedding/weights": 555,
        "embedding/weights_total": 1000, "lstm_0/weights": 300, "lstm_0/weights_total": 1000, "lstm_0/hidden_neurons": 7,
        "lstm_0/units": 8, "lstm_1/weights": 20, "lstm_1/weights_total": 1000, "lstm_1/hidden_neurons": 8,
        "lstm_1/units": 8, "softmax/weights": 100, "softmax/weights_total": 1000}})
    lstm_only = make_run(tmp_path / "lstm_only", {1: {  # a deterministic softmax: no count for it, not 0
        "nonzero_weights": 999, "weights": 4000, "compression": 4.0, "lstm_0/weights": 40, "lstm_0/weights_total": 1000,
        "lstm_0/hidden_neurons": 7, "lstm_0/units": 8}})
    assert main(["x", "--by_layer", str(run), str(lstm_only), str(log)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "| epoch | LSTM theirs | LSTM run | LSTM lstm_only | softmax theirs | softmax run | softmax lstm_only |",
        "|---|---|---|---|---|---|---|",
        "| 1 | 42139 | - | - | 521359 | - | - |",  # their epoch 1 prints w_x only; ours have no structure row
        "| 2 | 144328 | 320 | 40 | 430518 | 100 | - |"]
    log.write_text("\n".join(line.split(" (w_")[0] for line in THEIR_LOG.splitlines()))
    assert main(["x", str(run), str(log), "--by_layer"]) == 1
    assert "no per-layer counts (w_x, w_h, Dense w)" in capsys.readouterr().err


def test_epochs_vs_lobacheva_gain_gives_the_kept_weights_gained_per_epoch_theirs_and_each_runs(tmp_path, capsys):
    from benchmarks.epochs_vs_lobacheva import main

    log = tmp_path / "log_lcrl.txt"
    log.write_text(THEIR_LOG.replace("(w_x: 42139/10240000)", "(w_x: 42139/10240000) (w_h: 75673/262144)"))
    def structure(lstm, softmax):
        return {"nonzero_weights": lstm + softmax, "weights": 2000, "compression": 2000 / (lstm + softmax),
                "lstm_0/weights": lstm, "lstm_0/weights_total": 1000, "lstm_0/hidden_neurons": 7, "lstm_0/units": 8,
                "softmax/weights": softmax, "softmax/weights_total": 1000}

    run = make_run(tmp_path / "run", {0: structure(100, 500), 1: structure(340, 300)})
    late = make_run(tmp_path / "late", {1: structure(40, 10)})
    assert main(["x", "--by_layer", "--gain=1-2", str(run), str(late), str(log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-6:] == ["", "| gained per epoch, epochs 1-2 | LSTM | softmax |", "|---|---|---|",
                          f"| theirs | {78030 + 66298 - 42139 - 75673:.1f} | {430518 - 521359:.1f} |",
                          "| run | 240.0 | -200.0 |", "| late | - | - |"]  # late: no structure row for epoch 1
    for bad in ("--gain=2-1", "--gain=1-2-3", "--gain=a-b"):
        assert main(["x", bad, str(run), str(log)]) == 2
        assert "give one --gain=A-B with epochs A < B" in capsys.readouterr().err
    log.write_text("\n".join(line.split(" (w_")[0] for line in THEIR_LOG.splitlines()))
    assert main(["x", "--gain=1-2", str(run), str(log)]) == 1
    assert "no per-layer counts" in capsys.readouterr().err


def test_counted_vs_lobacheva_sets_both_of_our_counts_and_the_two_kernels_beside_their_log(tmp_path, capsys):
    import json

    from benchmarks.counted_vs_lobacheva import main

    log = tmp_path / "log_lcrl.txt"
    log.write_text(THEIR_LOG)
    run = make_run(tmp_path / "run", {1: {
        "nonzero_weights": 999, "weights": 4000, "compression": 4.0, "lstm_0/weights": 80000,
        "lstm_0/weights_total": 1000, "lstm_0/hidden_neurons": 9, "lstm_0/units": 16, "softmax/weights": 430000,
        "softmax/weights_total": 1000}})

    def line(epoch, kernel, recurrent, live, softmax):
        return json.dumps({"epochs": epoch, "counted_as_lobacheva": {
            "lstm_0": {"kernel": kernel, "recurrent_kernel": recurrent, "hidden_neurons": live},
            "softmax": {"kernel": softmax}}})

    jsonl = tmp_path / "log_alpha.jsonl"
    jsonl.write_text("\n".join([line(1, 40000, 5000, 16, 500000), line(2, 1, 1, 1, 1), line(2, 79000, 900, 7, 429990)]))
    assert main(["x", str(jsonl), str(run), str(log)]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == [
        "| 1 | - | 45,000 | 42,139 | - | 500,000 | 521,359 | - | 16 | 256 |",  # no structure row for epoch 1
        "| 2 | 80,000 | 79,900 | 144,328 | 430,000 | 429,990 | 430,518 | 9 | 7 | 250 |"]  # the later line of epoch 2
    assert main(["x", "--kernels", str(jsonl), str(run), str(log)]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == [
        "| 1 | 40,000 | - | - | 5,000 | - | - |",  # their epoch 1 prints w_x only: no split
        f"| 2 | 79,000 | 78,030 | +970 (+{100 * (79000 / 78030 - 1):.1f}%) | 900 | 66,298 | -65,398 (-98.6%) |"]
    jsonl.write_text(line(1, 1, 1, 1, 1) + "\n" + json.dumps({"epochs": 2, "total": 5}) + "\n")
    assert main(["x", str(jsonl), str(run), str(log)]) == 1
    assert "log_alpha.jsonl, line 2: not a benchmarks.log_alpha output" in capsys.readouterr().err
    assert main(["x", str(tmp_path / "none.jsonl"), str(run), str(log)]) == 1
    assert "none.jsonl not found" in capsys.readouterr().err
    assert main(["x", "--kernel", str(jsonl), str(run), str(log)]) == 2  # a misspelt flag: the usage, not a table
    assert "counted_vs_lobacheva LOG_ALPHA_JSONL RUN" in capsys.readouterr().err


def test_epochs_flag_lists_only_the_epochs_asked_for_and_the_gains_still_use_every_epoch(tmp_path, capsys):
    import json

    from benchmarks import counted_vs_lobacheva, epochs_vs_lobacheva

    log = tmp_path / "log_lcrl.txt"
    log.write_text(THEIR_LOG.replace("(w_x: 42139/10240000)", "(w_x: 42139/10240000) (w_h: 75673/262144)"))
    run = make_run(tmp_path / "run", {epoch: {
        "nonzero_weights": 600, "weights": 2000, "compression": 2000 / 600, "lstm_0/weights": lstm,
        "lstm_0/weights_total": 1000, "lstm_0/hidden_neurons": 7, "lstm_0/units": 8, "softmax/weights": 500,
        "softmax/weights_total": 1000} for epoch, lstm in ((0, 100), (1, 340))})
    assert epochs_vs_lobacheva.main(["x", "--by_layer", "--gain=1-2", "--epochs=2-9", str(run), str(log)]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == [
        "| 2 | 144328 | 340 | 430518 | 500 |", "",  # epoch 1's row left out, but not from the gains
        "| gained per epoch, epochs 1-2 | LSTM | softmax |", "|---|---|---|",
        f"| theirs | {78030 + 66298 - 42139 - 75673:.1f} | {430518 - 521359:.1f} |", "| run | 240.0 | 0.0 |"]
    assert epochs_vs_lobacheva.main(["x", "--epochs=1-2", str(run), str(log)]) == 0
    assert [row.split(" |")[0] for row in capsys.readouterr().out.splitlines()[2:]] == ["| 1", "| 2"]
    assert epochs_vs_lobacheva.main(["x", "--epochs=3-9", str(run), str(log)]) == 1  # no row: an error, not a header
    assert "--epochs=3-9: no epoch in that range is in both their log and ours" in capsys.readouterr().err
    jsonl = tmp_path / "log_alpha.jsonl"
    jsonl.write_text("\n".join(json.dumps({"epochs": epoch, "counted_as_lobacheva": {
        "lstm_0": {"kernel": 10 * epoch, "recurrent_kernel": epoch, "hidden_neurons": 5}}}) for epoch in (1, 2)))
    assert counted_vs_lobacheva.main(["x", "--kernels", "--epochs=2-3", str(jsonl), str(run), str(log)]) == 0
    assert [row.split(" |")[0] for row in capsys.readouterr().out.splitlines()[2:]] == ["| 2"]
    assert counted_vs_lobacheva.main(["x", "--epochs=3-4", str(jsonl), str(run), str(log)]) == 1
    assert "--epochs=3-4: no epoch in that range is in " + str(jsonl) in capsys.readouterr().err
    for bad in ("--epochs=2-2", "--epochs=1-a", "--epochs"):
        for tool, arguments in ((epochs_vs_lobacheva, [str(run)]), (counted_vs_lobacheva, [str(jsonl), str(run)])):
            assert tool.main(["x", bad, *arguments, str(log)]) == 2
            assert "give one --epochs=A-B with epochs A < B, e.g. --epochs=17-31" in capsys.readouterr().err


def test_log_alpha_counts_put_each_entry_in_its_interval_and_count_the_rows_that_keep_one():
    import numpy as np

    from benchmarks.log_alpha import interval_names, log_alpha_counts
    from common.bayes import BayesianDense

    layer = BayesianDense(3, init_log_sigma2=0.0)
    layer.build((None, 4))
    mu = np.array([[1.0, 1.0, 1.0], [np.exp(-2.0), 0.0, 1.0], [np.exp(-5.5)] * 3, [np.exp(-4.5)] * 3], "float32")
    layer.kernel.assign(mu)  # log sigma^2 0: log alpha = -log(mu^2 + 1e-8): 0; 4, 18.4 (a zero mean), 0; 11; 9
    counts = log_alpha_counts(layer, "kernel")
    names = interval_names()
    assert names == ["[-inf, -10)", "[-10, -8)", "[-8, 3)", "[3, 8)", "[8, 10)", "[10, inf)"]
    assert [counts[k] for k in names] == [0, 0, 4, 1, 3, 4]
    assert (counts["entries"], counts["kept"], counts["rows"], counts["rows_with_kept"]) == (12, 4, 4, 2)
    fine = log_alpha_counts(layer, "kernel", edges=(2.0, 3.0, 5.0))  # finer edges: the same entries, split anew
    assert [fine[k] for k in interval_names((2.0, 3.0, 5.0))] == [4, 0, 1, 7]
    assert fine["kept"] == counts["kept"]  # what is kept does not depend on the edges


def test_log_alpha_edges_flag_rejects_what_is_not_an_increasing_list():
    from benchmarks.log_alpha import main, parse_edges

    assert parse_edges("2.9,3,3.1") == (2.9, 3.0, 3.1)
    for bad, words in (("3,a", "separated by commas"), ("3,2.9", "finite and increasing"),
                       ("3,3", "finite and increasing"), ("2,inf", "finite and increasing")):
        with pytest.raises(SystemExit, match=words):
            parse_edges(bad)
    with pytest.raises(SystemExit, match="python -m benchmarks.log_alpha"):
        main(["--edges=2.9,3"])  # no run folder


def test_adam_epsilon_report_counts_the_entries_whose_step_another_epsilon_shrinks():
    import numpy as np

    from benchmarks.adam_epsilon import second_moment_report, step_ratio

    # their step / ours = (s + 1e-7) / (s + 3.5e-7): 0.288 at s = 1e-9, 0.815 at 1e-6, 0.9975 at 1e-4, ~1 at 1
    assert step_ratio(np.array([1e-6]), 1e-7, 3.5e-7)[0] == pytest.approx(1.1e-6 / 1.35e-6)
    report = second_moment_report(np.array([0.0, 1e-9, 1e-6, 1e-4, 1.0]), 1e-7, 3.5e-7)
    assert (report["entries"], report["never_moved"]) == (5, 1)  # v = 0: no step under either epsilon
    assert report["their_step_below_0.9"] == 0.5 and report["their_step_below_0.99"] == 0.5
    same = second_moment_report(np.array([1e-9, 1e-6]), 1e-7, 1e-7)  # the same epsilon changes nothing
    assert same["their_step_below_0.9"] == same["their_step_below_0.99"] == 0.0


@pytest.mark.slow
def test_adam_epsilon_reads_a_runs_adam_state_and_gradient_norm(tmp_path, tiny_corpus):
    from tests.helpers import run

    save = tmp_path / "bayes"
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--method=bayes_structured",
        "--kl_weight=0.001", "--max_max_epoch=1", "--optimizer=adam", "--learning_rate=0.01", "--verbose=0")
    proc = run("benchmarks.adam_epsilon", str(save), f"--data_path={tiny_corpus}", "--windows=2")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["epsilon"] == pytest.approx(1e-7) and report["their_epsilon_here"] == pytest.approx(5e-8)  # 5 steps
    assert report["adam_steps"] > 0 and report["epochs"] == 1
    grad = report["gradient_norm"]
    assert grad["windows"] == 2 and 0 < grad["mean_per_token"] <= grad["max_per_token"] and grad["clip_per_token"] == 1.0
    kernel = report["variables"]["lstm_0/kernel"]
    assert kernel["entries"] == 16 * 64 and kernel["never_moved"] < kernel["entries"]
    # their smaller epsilon (5e-8 < 1e-7) never shrinks a step
    assert all(v["their_step_below_0.99"] == 0.0 for v in report["variables"].values())
    dense = tmp_path / "dense"
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={dense}", "--max_max_epoch=1", "--verbose=0")
    proc = run("benchmarks.adam_epsilon", str(dense), f"--data_path={tiny_corpus}", check=False)
    assert proc.returncode != 0 and "not Adam" in proc.stderr
