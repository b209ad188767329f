"""The ptb entrypoints as a user runs them: python -m ptb.train / evaluate / extract."""

import csv
import json

import pytest

from common.run_folder import latest_checkpoint
from tests.helpers import RESULT_KEYS, run, write_corpus


def test_one_epoch_test_model_writes_results(tmp_path, tiny_corpus):
    save = tmp_path / "run"
    proc = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--max_max_epoch=1", "--verbose=0")
    assert "Test Perplexity:" in proc.stdout
    results = json.loads((save / "results.json").read_text())
    assert RESULT_KEYS <= set(results)
    assert results["epochs"] == 1 and results["hidden_sizes"] == [16, 16]
    assert 1 < results["test_ppl"] < 6  # 12 word types + <eos> from a small grammar: uniform would be 13
    log = (save / "log.csv").read_text()
    assert log.count("\n") == 2 and (save / "checkpoint" / "latest.json").exists()
    assert "val_ppl" in log.splitlines()[0] and ",NA" not in log
    assert len(list((save / "tensorboard").rglob("*"))) > 0
    assert not (save / "structure.csv").exists()  # a dense model: nothing hidden behind log alpha


@pytest.mark.slow
def test_stopped_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path, tiny_corpus):
    """A run stopped after epoch 1 of 2, restarted with the same save_path, equals a straight 2-epoch
    run: the weights, Adam's moments, the dropout RNG and the learning-rate schedule all resume."""
    config = tmp_path / "dropout.json"
    config.write_text('{"learning_rate": 0.01, "dropout_keep_prob": 0.5}')
    args = ["--model=test", f"--data_path={tiny_corpus}", "--verbose=0", "--optimizer=adam", f"--config_file={config}"]
    run("ptb.train", *args, f"--save_path={tmp_path / 'straight'}", "--max_max_epoch=2")
    run("ptb.train", *args, f"--save_path={tmp_path / 'stopped'}", "--max_max_epoch=1")
    proc = run("ptb.train", *args, f"--save_path={tmp_path / 'stopped'}", "--max_max_epoch=2")
    assert "Resuming from" in proc.stderr and "after epoch 1" in proc.stderr
    assert "Skipping variable loading" not in proc.stderr  # the Adam moments load with the weights
    a = json.loads((tmp_path / "straight" / "results.json").read_text())
    b = json.loads((tmp_path / "stopped" / "results.json").read_text())
    assert abs(a["test_ppl"] - b["test_ppl"]) < 1e-3 and abs(a["valid_ppl"] - b["valid_ppl"]) < 1e-3
    logs = [(tmp_path / name / "log.csv").read_text().splitlines() for name in ("straight", "stopped")]
    assert len(logs[1]) == 3  # header + 2 epochs
    lr = [[float(row.split(",")[log[0].split(",").index("lr")]) for row in log[1:]] for log in logs]
    assert lr[0] == lr[1] == pytest.approx([0.01, 0.005])  # the test preset halves it from epoch 2
    # resuming with another config is refused, and nothing in the save_path is touched
    before = (tmp_path / "stopped" / "checkpoint" / "latest.json").read_text()
    proc = run("ptb.train", *args, f"--save_path={tmp_path / 'stopped'}", "--max_max_epoch=2", "--optimizer=gd", check=False)
    assert proc.returncode == 1 and "different config" in proc.stderr
    assert (tmp_path / "stopped" / "checkpoint" / "latest.json").read_text() == before


@pytest.mark.slow
def test_max_epoch_holds_the_initial_learning_rate_longer(tmp_path, tiny_corpus):
    """The test preset decays from its second epoch; --max_epoch=2 keeps lr 1 for two."""
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path}", "--max_max_epoch=3",
        "--max_epoch=2", "--verbose=0")
    rows = (tmp_path / "log.csv").read_text().splitlines()
    column = rows[0].split(",").index("lr")
    assert [float(r.split(",")[column]) for r in rows[1:]] == [1.0, 1.0, 0.5]
    assert json.loads((tmp_path / "results.json").read_text())["config"]["max_epoch"] == 2


@pytest.mark.slow
def test_training_flags_set_optimizer_windows_and_the_default_kl_weight(tmp_path, tiny_corpus):
    """Lobacheva et al.'s schedule is reachable by flags: Adam, its rate and clip, 35 x 32-like windows."""
    proc = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path}", "--max_max_epoch=2",
               "--max_epoch=2", "--optimizer=adam", "--learning_rate=0.01", "--max_grad_norm=50", "--num_steps=4",
               "--batch_size=3", "--method=bayes_structured", "--adam_epsilon=4e-8", "--verbose=0")
    assert "windows of 3 x 4 per epoch" in proc.stderr
    config = json.loads((tmp_path / "results.json").read_text())["config"]
    assert (config["optimizer"], config["learning_rate"], config["max_grad_norm"]) == ("adam", 0.01, 50.0)
    assert (config["num_steps"], config["batch_size"], config["adam_epsilon"]) == (4, 3, 4e-8)
    assert config["kl_weight"] == 4 / 929_589  # the ELBO's weight follows the window length
    rows = (tmp_path / "log.csv").read_text().splitlines()
    column = rows[0].split(",").index("lr")
    assert [float(r.split(",")[column]) for r in rows[1:]] == pytest.approx([0.01, 0.01])  # constant: max_epoch = 2


@pytest.mark.slow
def test_iss_run_extracts_a_compact_model_with_the_same_perplexity(tmp_path, tiny_corpus):
    config = tmp_path / "iss.json"
    config.write_text(json.dumps({"learning_rate": 1.0, "dropout_keep_prob": 1.0, "grouplasso": {
        "global_decay": 0.05, "lstm_0": {"structure_decay_multi": 1.0}, "lstm_1": {"structure_decay_multi": 1.0}}}))
    save, out = tmp_path / "iss", tmp_path / "compact"
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", f"--config_file={config}",
        "--max_max_epoch=2", "--zero_threshold=0.01", "--verbose=0", "--display_weights")
    results = json.loads((save / "results.json").read_text())
    assert sum(results["hidden_sizes"]) < 32, results["hidden_sizes"]  # ISS removed units
    assert (save / "weights.png").stat().st_size > 1000
    proc = run("ptb.extract", f"--restore_path={save}", f"--output={out}")
    assert f"Hidden sizes: {results['hidden_sizes']}" in proc.stdout
    assert (out / "model.keras").exists() and (out / "kept_units.npz").exists()
    sparse = run("ptb.evaluate", f"--restore_path={save}", f"--data_path={tiny_corpus}").stdout
    compact = run("ptb.evaluate", f"--restore_path={out}", f"--data_path={tiny_corpus}").stdout
    value = lambda text, key: float(text.split(key)[1].split()[0])  # noqa: E731
    assert abs(value(sparse, "Test Perplexity:") - value(compact, "Test Perplexity:")) < 0.01
    assert abs(value(sparse, "Test Perplexity:") - results["test_ppl"]) < 0.01
    assert abs(value(sparse, "Valid Perplexity:") - value(compact, "Valid Perplexity:")) < 0.01
    _check_export(save, out, tmp_path / "deploy", results["hidden_sizes"], tiny_corpus)


def _check_export(sparse_run, compact_run, deploy, hidden_sizes, corpus):
    """ptb.export of the sparse run: every format gives the extracted model's logits for a window from zero state."""
    proc = run("ptb.export", f"--restore_path={sparse_run}", f"--output={deploy}", "--num_steps=5", "--int8", "--hoist_inputs",
               f"--data_path={corpus}")
    report = json.loads((deploy / "export.json").read_text())
    assert report["lstm_sizes"] == hidden_sizes and "tflite_int8" in proc.stdout
    assert set(report["exports"]) == {"keras", "saved_model", "tflite", "tflite_int8"}
    for name in ("keras", "saved_model", "tflite"):
        assert report["exports"][name]["max_abs_diff"] < 1e-4, (name, report["exports"][name])
    assert (deploy / "model.tflite").stat().st_size > 1000 and (deploy / "model_int8.tflite").exists()
    ppl = report["test_ppl_zero_state_windows"]
    assert set(ppl) == {"keras", "tflite", "tflite_int8"} and 1 < ppl["keras"] < 6, ppl
    assert ppl["tflite"] == pytest.approx(ppl["keras"], rel=1e-4) and "test perplexity" in proc.stdout
    import keras
    import numpy as np

    import common.layers  # noqa: F401  (registers the LSTM for loading)

    compact = keras.models.load_model(compact_run / "model.keras")  # stateful, batch 4 x 5 steps (test preset)
    window = np.random.default_rng(3).integers(0, report["vocab_size"], size=(4, 5)).astype("int32")
    expected = np.asarray(compact.predict_on_batch(window))[:1]
    exported = keras.models.load_model(deploy / "model.keras")
    np.testing.assert_allclose(np.asarray(exported.predict_on_batch(window[:1])), expected, atol=1e-5)


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t, d: ["--model=test", f"--data_path={t / 'missing'}"], "data directory not found"),
        (lambda t, d: ["--model=huge", f"--data_path={d}"], "model"),
        (lambda t, d: ["--model=test", f"--data_path={d}", f"--config_file={t / 'bad.json'}"], "malformed JSON"),
        (lambda t, d: ["--model=test", f"--data_path={d}", f"--config_file={t / 'unknown.json'}"], "unknown key(s) lr"),
        (lambda t, d: ["--model=test", f"--data_path={d}", "--hidden_size1=0"], "hidden_size1"),
        (lambda t, d: ["--model=test", f"--data_path={d}", f"--restore_path={t / 'nothing'}"], "no config.json"),
    ],
)
def test_bad_input_exits_nonzero_with_one_clear_line(tmp_path, tiny_corpus, make_args, message):
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "unknown.json").write_text('{"lr": 1}')
    (tmp_path / "nothing").mkdir()
    proc = run("ptb.train", *make_args(tmp_path, tiny_corpus), f"--save_path={tmp_path / 'out'}", check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_restore_from_a_different_architecture_is_refused(tmp_path, tiny_corpus):
    save = tmp_path / "a"
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--max_max_epoch=1", "--verbose=0")
    proc = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path / 'b'}",
               f"--restore_path={save}", "--hidden_size1=5", "--verbose=0", check=False)
    assert proc.returncode == 1 and "has LSTM sizes (16, 16)" in proc.stderr and "Traceback" not in proc.stderr
    other = write_corpus(tmp_path / "other", lines=(300, 60, 60), seed=1)
    (other / "ptb.train.txt").write_text((other / "ptb.train.txt").read_text() + " zebra giraffe \n")
    proc = run("ptb.evaluate", f"--restore_path={save}", f"--data_path={other}", check=False)
    assert proc.returncode == 1 and "was trained on" in proc.stderr


@pytest.mark.slow
def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, tiny_corpus):
    save = tmp_path / "run"
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--max_max_epoch=1", "--verbose=0")
    good = latest_checkpoint(str(save))[1]
    good = open(good, "rb").read()
    bad = tmp_path / "explode.json"
    bad.write_text('{"learning_rate": 1e30}')
    proc = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path / 'run2'}",
               f"--restore_path={save}", f"--config_file={bad}", "--max_max_epoch=1", "--verbose=0", check=False)
    assert proc.returncode == 1 and "diverged" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run2" / "checkpoint").exists()  # the NaN epoch was not saved
    assert open(latest_checkpoint(str(save))[1], "rb").read() == good


@pytest.mark.slow
def test_set_run_keeps_its_sparsity_and_resumes_like_an_uninterrupted_one(tmp_path, tiny_corpus):
    args = ["--model=test", f"--data_path={tiny_corpus}", "--verbose=0", "--method=set", "--set_epsilon=2", "--set_zeta=0.3"]
    run("ptb.train", *args, f"--save_path={tmp_path / 'straight'}", "--max_max_epoch=2")
    run("ptb.train", *args, f"--save_path={tmp_path / 'stopped'}", "--max_max_epoch=1")
    run("ptb.train", *args, f"--save_path={tmp_path / 'stopped'}", "--max_max_epoch=2")
    a = json.loads((tmp_path / "straight" / "results.json").read_text())
    b = json.loads((tmp_path / "stopped" / "results.json").read_text())
    assert abs(a["test_ppl"] - b["test_ppl"]) < 1e-3 and a["nonzero_weights"] == b["nonzero_weights"]
    assert a["nonzero_weights"] < 0.4 * a["weights"] and a["test_ppl"] < 13  # sparse, and still learning
    sparsity = (tmp_path / "straight" / "sparsity.csv").read_text().splitlines()
    assert sparsity[1].split(",")[1] == sparsity[2].split(",")[1]  # same overall sparsity after evolving


@pytest.mark.parametrize("args, message", [
    (["--method=iss"], "--method=iss needs a group Lasso strength"),
    (["--method=l1"], "--method=l1 needs an L1 strength"),
    (["--method=set", "--config_file=ptb/configs/l1.json"], "--method=set trains without penalties"),
    (["--bayes_layers=all"], "--bayes_layers needs --method=bayes_structured"),
    (["--nobayes_gates"], "--nobayes_gates needs --method=bayes_structured"),
    (["--bayes_group_noise=sequence"], "--bayes_group_noise needs --method=bayes_structured"),
    (["--bayes_hidden_scaling=output"], "--bayes_hidden_scaling needs --method=bayes_structured"),
    (["--bayes_init=lobacheva"], "--bayes_init needs --method=bayes_structured"),
    (["--bayes_sigma_variable=log_sigma"], "--bayes_sigma_variable needs --method=bayes_structured"),
    (["--bayes_log_alpha_clip=8"], "--bayes_log_alpha_clip needs --method=bayes_structured"),
    (["--bayes_kl_fit=lobacheva"], "--bayes_kl_fit needs --method=bayes_structured"),
    (["--adam_epsilon=3.5e-7"], "--adam_epsilon needs --optimizer=adam"),
    (["--model=sparselarge", "--max_epoch=3"], "--max_epoch sets the exponential decay; --model=sparselarge decays by steps"),
    (["--method=grow_prune", "--display_weights"], "--display_weights draws the matrices of the ISS groups"),  # none here
])
def test_method_flag_checks_its_config(tmp_path, tiny_corpus, args, message):
    proc = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path / 'x'}", *args, check=False)
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("layers, width, bayes_layers, gates, lobacheva_code, one_hot", [
    (2, 16, "lstm", True, False, False),  # weights + neurons + gates
    (1, 12, "all", False, True, False),  # Lobacheva et al.'s setup and code: 1 layer, every layer sparsified, W + N
    (1, 12, "all", False, True, True),  # ... and their model, which reads one-hot words
])
def test_bayes_structured_run_reports_what_survives(tmp_path, tiny_corpus, layers, width, bayes_layers, gates,
                                                    lobacheva_code, one_hot):
    save = tmp_path / "bayes"
    noise, scaling, init, clip, sigma, fit = (("sequence", "output", "lobacheva", 8.0, "log_sigma", "lobacheva")
                                              if lobacheva_code else ("batch", "recurrence", "uniform", 10.0, "log_sigma2",
                                                                      "molchanov"))
    train = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--method=bayes_structured",
        "--kl_weight=0.001", "--max_max_epoch=1", "--verbose=0", f"--num_layers={layers}", f"--hidden_size={width}",
        f"--bayes_layers={bayes_layers}", "--bayes_gates" if gates else "--nobayes_gates",
        f"--bayes_group_noise={noise}", f"--bayes_hidden_scaling={scaling}", f"--bayes_init={init}",
        f"--bayes_log_alpha_clip={clip}", f"--bayes_sigma_variable={sigma}", f"--bayes_kl_fit={fit}",
        "--one_hot_input" if one_hot else "--noone_hot_input")
    results = json.loads((save / "results.json").read_text())
    sparsified = {f"lstm_{i}" for i in range(layers)} | ({"softmax"} if bayes_layers == "all" else set())
    sparsified |= {"embedding"} if bayes_layers == "all" and not one_hot else set()
    assert set(results["structure"]) == sparsified | {"model"} and results["config"]["kl_weight"] == 0.001
    assert results["config"]["bayes_gates"] is gates
    assert ([results["config"][f"bayes_{k}"] for k in ("group_noise", "hidden_scaling", "init", "log_alpha_clip", "sigma_variable",
                                                       "kl_fit")] == [noise, scaling, init, clip, sigma, fit])
    total = 13 * width + layers * (8 * width * width + 4 * width) + width * 13 + 13  # the dense model's weights
    if one_hot:  # no embedding; the first LSTM's input kernel has a row per word
        total += 13 * 4 * width - 13 * width - 4 * width * width
    assert results["config"]["one_hot_input"] is one_hot
    assert 0 < results["structure"]["model"]["weights"] < results["structure"]["model"]["weights_total"] == total
    # the top-level counts are those of the model it evaluates as, not of its variational parameters
    assert (results["nonzero_weights"], results["weights"]) == (results["structure"]["model"]["weights"], total)
    assert f"Non-zero weights: {results['nonzero_weights']} of {total}" in train.stderr  # not the variational count
    assert results["variational_parameters"] > total  # a log sigma beside each Bayesian weight's mean
    assert (results["config"]["num_layers"], results["config"]["hidden_size"]) == (layers, width)
    layer = results["structure"]["lstm_0"]
    assert layer["units"] == width and set(layer["gates"]) == {"input_gate", "forget_gate", "cell_update", "output_gate"}
    assert 0 < layer["weights"] <= layer["weights_total"] == (13 if one_hot else width) * 4 * width + width * 4 * width
    assert results["test_ppl"] < 13  # uniform over the 13 types: it learns something in one epoch
    with open(save / "structure.csv") as f:  # what it keeps, epoch by epoch (one epoch here)
        (row,) = list(csv.DictReader(f))
    assert int(row["nonzero_weights"]) == results["nonzero_weights"] and int(row["weights"]) == total
    assert int(row["lstm_0/hidden_neurons"]) == layer["hidden_neurons"] and float(row["compression"]) > 1
    spread = json.loads(run("benchmarks.log_alpha", str(save)).stdout)  # where its log alphas lie
    assert (spread["epochs"], spread["log_alpha_clip"], spread["sigma_variable"]) == (1, clip, sigma)
    assert all(sum(v for k, v in counts.items() if k.startswith("[")) == counts["entries"] > 0
               for counts in spread["variables"].values())
    if bayes_layers == "all":  # the softmax keeps what its log alphas keep
        assert spread["variables"]["softmax/kernel"]["kept"] == results["structure"]["softmax"]["weights"]
    kernel = spread["variables"]["lstm_0/kernel"]  # the words (one-hot) or embedding dimensions it still reads
    assert 0 < kernel["rows_with_kept"] <= kernel["rows"] == (13 if one_hot else width)
    out = tmp_path / "dense"
    proc = run("ptb.extract", f"--restore_path={save}", f"--output={out}")  # into stock LSTMs
    hidden = json.loads(proc.stdout.split("Hidden sizes: ")[1].splitlines()[0])
    assert len(hidden) == layers and all(0 < w <= width for w in hidden)  # the embedding width is not one of them
    assert int(proc.stdout.split("non-zero: ")[1].split()[0]) == results["nonzero_weights"]  # the same count twice
    assert json.loads((out / "config.json").read_text())["config"]["kl_weight"] == 0.0
    compact = run("ptb.evaluate", f"--restore_path={out}", f"--data_path={tiny_corpus}").stdout
    assert float(compact.split("Test Perplexity:")[1].split()[0]) == pytest.approx(results["test_ppl"], abs=0.01)


@pytest.mark.slow
def test_grow_prune_run_grows_then_prunes_to_the_target_density(tmp_path, tiny_corpus):
    save = tmp_path / "gp"
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--method=grow_prune",
        "--gate_hidden=4", "--target_density=0.25", "--max_max_epoch=5", "--verbose=0")
    rows = (save / "sparsity.csv").read_text().splitlines()
    header = rows[0].split(",")
    column = header.index("sparsity/lstm_0/hidden_kernel")
    sparsity = [float(r.split(",")[column]) for r in rows[1:]]
    assert sparsity[0] == pytest.approx(0.5, abs=0.1)  # the random seed masks
    assert sparsity[1] < sparsity[0]  # grown before epoch 2
    assert sparsity[4] >= 0.75 - 1e-9 and sparsity[4] > sparsity[3] > sparsity[2]  # pruned to the target
    results = json.loads((save / "results.json").read_text())
    assert results["nonzero_weights"] < results["weights"]
    proc = run("ptb.extract", f"--restore_path={save}", f"--output={tmp_path / 'x'}", check=False)
    assert proc.returncode == 1 and "gate masks are unstructured" in proc.stderr
