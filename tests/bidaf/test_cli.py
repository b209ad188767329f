"""The bidaf programs as a user runs them: prepro -> train -> extract -> evaluate -> evaluate_squad."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.bidaf.corpus import write_glove, write_squad
from tests.helpers import ROOT, run

ISS = ["--model=test", "--group_lasso=0.003", "--zero_threshold=0.02", "--verbose=0"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Prepared once for the module: the tests only read it."""
    folder = tmp_path_factory.mktemp("bidaf_data")
    source = write_squad(folder / "squad", gz=True)
    glove = write_glove(folder / "glove.txt")
    proc = run("bidaf.prepro", f"--source_dir={source}", f"--glove_path={glove}", f"--target_dir={folder / 'prep'}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["train"] == {"contexts": 120, "questions": 240, "unmapped_answers": 0}
    return folder / "prep", source


@pytest.mark.slow
def test_a_stopped_run_resumes_with_its_weight_average_and_trains_like_a_run_without_one(tmp_path, prepared):
    """Weights, Adam's moments, the weight average, the dropout RNG and the batch order all resume:
    stopped after epoch 1 and resumed, a run ends where an uninterrupted one does. The average only
    changes what is evaluated: the resumed run's weights as trained (--trained_weights) are those
    of a run without the average. (One test, so that these runs serve both checks.)
    """
    from bidaf.experiment import restore

    data, _ = prepared
    (tmp_path / "ema.json").write_text('{"ema_decay": 0.9}')
    plain = ["--model=test", f"--data_dir={data}", "--verbose=0"]
    averaged = [*plain, f"--config_file={tmp_path / 'ema.json'}"]
    run("bidaf.train", *averaged, f"--save_path={tmp_path / 'resumed'}", "--max_max_epoch=1")
    proc = run("bidaf.train", *averaged, f"--save_path={tmp_path / 'resumed'}", "--max_max_epoch=2")
    assert "Resuming from" in proc.stderr and "after epoch 1" in proc.stderr
    run("bidaf.train", *averaged, f"--save_path={tmp_path / 'straight'}", "--max_max_epoch=2")
    run("bidaf.train", *plain, f"--save_path={tmp_path / 'plain'}", "--max_max_epoch=2")
    names = ("resumed", "straight", "plain")
    logs = [(tmp_path / name / "log.csv").read_text().splitlines() for name in names]
    assert len(logs[0]) == 3
    loss = [[float(row.split(",")[log[0].split(",").index("loss")]) for row in log[1:]] for log in logs]
    assert loss[0] == pytest.approx(loss[1], rel=1e-5) and loss[2] == pytest.approx(loss[1], rel=1e-5)
    results = {name: json.loads((tmp_path / name / "results.json").read_text()) for name in names}
    scores = {name: {"exact_match": r["dev_em"], "f1": r["dev_f1"]} for name, r in results.items()}
    assert scores["resumed"] == scores["straight"]

    def weights(name, trained_weights=False):
        return [v.numpy() for v in restore(str(tmp_path / name), trained_weights=trained_weights)[0].trainable_variables]

    # the average resumed: restarting it from the weights at the resume would leave 0.9^30 of their
    # difference (about 1e-1 here) in it
    average = weights("resumed")
    for a, b in zip(average, weights("straight")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    trained = weights("resumed", trained_weights=True)
    for a, b in zip(trained, weights("plain")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert all(not np.array_equal(a, t) for a, t in zip(average, trained)), "every trained weight moved"
    proc = run("bidaf.evaluate", f"--restore_path={tmp_path / 'resumed'}", "--trained_weights")
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == scores["plain"]


def test_bad_inputs_are_one_clear_line(tmp_path):
    proc = run("bidaf.train", "--model=test", f"--data_dir={tmp_path}", check=False)
    assert proc.returncode == 1 and "run python -m bidaf.prepro first" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "squad").mkdir()
    (tmp_path / "squad" / "train-v1.1.json").write_text('{"data": [{"paragraphs": [{"context": 3}]}]}')
    proc = run("bidaf.prepro", f"--source_dir={tmp_path / 'squad'}", f"--glove_path={tmp_path / 'g.txt'}",
               f"--target_dir={tmp_path / 'out'}", check=False)
    assert proc.returncode == 1 and "a paragraph needs a 'context' string" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_oracle_scores_what_tokenization_allows(prepared):
    data, _ = prepared
    proc = run("bidaf.evaluate", "--oracle", f"--data_dir={data}")
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"exact_match": 100.0, "f1": 100.0}
    proc = run("bidaf.evaluate", "--oracle", check=False)
    assert proc.returncode == 1 and "--oracle needs --data_dir" in proc.stderr


@pytest.mark.slow
def test_two_devices_train_like_one(tmp_path, prepared, backend="tensorflow"):
    """--distribute on two host devices; 39 dev questions make a batch that is padded to split evenly.

    TensorFlow (MirroredStrategy) only, to keep the suite short: the JAX path (DataParallel) shares
    the padding, and matches one device too (run with backend="jax").
    """
    data, _ = prepared
    logs, results = [], []
    for flag in ("--nodistribute", "--distribute"):
        save = tmp_path / flag
        run("bidaf.train", "--model=test", f"--data_dir={data}", f"--save_path={save}", "--max_max_epoch=1",
            "--dev_limit=39", "--verbose=0", "--host_devices=2", flag, env={"KERAS_BACKEND": backend})
        log = (save / "log.csv").read_text().splitlines()
        logs.append(dict(zip(log[0].split(","), map(float, log[1].split(",")))))
        results.append(json.loads((save / "results.json").read_text()))
    assert [r["devices"] for r in results] == [1, 2]
    assert logs[1]["loss"] == pytest.approx(logs[0]["loss"], rel=1e-5)
    assert (results[1]["dev_em"], results[1]["dev_f1"]) == (results[0]["dev_em"], results[0]["dev_f1"])


@pytest.mark.slow
def test_iss_bidaf_learns_through_the_gpu_run_script_and_its_compact_model_scores_the_same(tmp_path, prepared):
    """benchmarks/device_run.sh with TASK=bidaf (the GPU sessions' launcher) trains ISS with the weights'
    moving average on, as the bidaf presets have it (the test preset has not): bidaf's programs take
    --data_dir, units are removed, and what comes back holds the final scores of the sparse and of the
    compact model. (One test, so that its run serves both checks.)"""
    data, source = prepared
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir(), out.mkdir()
    (work / "benchmarks").symlink_to(os.path.join(ROOT, "benchmarks"))
    (tmp_path / "ema.json").write_text('{"ema_decay": 0.5}')
    env = {**os.environ, "PYTHONPATH": ROOT, "OUT": str(out), "DATA": str(data), "TASK": "bidaf", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run(["bash", "benchmarks/device_run.sh", "iss", *ISS, "--max_max_epoch=4",
                           f"--config_file={tmp_path / 'ema.json'}"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    back = out / "iss"
    results = json.loads((back / "results.json").read_text())
    assert results["task"] == "bidaf" and results["epochs"] == 4 and results["dev_questions"] == 40
    assert results["config"]["ema_decay"] == 0.5
    assert results["dev_f1"] > 60, results  # the made-up questions are learnable; chance is far lower
    assert sum(results["hidden_sizes"]) < 8 * 8, results["hidden_sizes"]  # ISS removed units
    scores = {"exact_match": results["dev_em"], "f1": results["dev_f1"]}
    printed = [line for line in (back / "train.log").read_text().splitlines() if line.startswith('{"exact_match"')]
    assert [json.loads(line) for line in printed] == [scores]
    assert not (back / "shortened_evaluate.log").exists()  # it finished its epochs
    log = (back / "log.csv").read_text().splitlines()
    assert len(log) == 5
    last = dict(zip(log[0].split(","), map(float, log[-1].split(","))))
    # the last epoch's scores and live units are those of the final, saved weights (Keras' fit
    # ends by writing the plain average, without the pruned zeros, into the weights)
    assert (last["val_em"], last["val_f1"]) == (results["dev_em"], results["dev_f1"])
    assert sum(v for k, v in last.items() if k.startswith("live/")) == sum(results["hidden_sizes"])
    extracted = (back / "extract.log").read_text()
    compact_weights, sparse_weights, compact_nonzero = (int(n) for n in re.search(
        r"Weights: (\d+) \(sparse model: (\d+)\); non-zero: (\d+)", extracted).groups())
    assert compact_weights < sparse_weights
    # deleting a removed unit drops only non-zero weights nothing reads: its bias (4 gates), not an ISS group member
    removed_units = 8 * 8 - sum(results["hidden_sizes"])
    assert 0 <= results["nonzero_weights"] - compact_nonzero <= 4 * removed_units, (extracted, results)
    assert results["nonzero_weights"] < results["weights"]  # unstructured zeros stay inside the kept units
    assert json.loads((back / "compact_evaluate.log").read_text().strip().splitlines()[-1]) == scores
    compact = json.loads(run("bidaf.evaluate", f"--restore_path={work / 'runs/device/iss_compact'}",
                             f"--predictions_path={tmp_path / 'p.json'}").stdout.strip().splitlines()[-1])
    assert compact == scores  # the sparse model's own scores
    official = run("bidaf.evaluate_squad", str(source / "dev-v1.1.json.gz"), str(tmp_path / "p.json"))
    assert json.loads(official.stdout.strip().splitlines()[-1]) == compact
