"""The rhns entrypoints as a user runs them: python -m rhns.train / evaluate / extract."""

import json

import pytest

from tests.helpers import RESULT_KEYS, ROOT, run

ISS = ["--model=test", "--structure_wd=0.03", "--zero_threshold=0.03", "--max_max_epoch=2", "--verbose=0"]


def _value(text, key):
    return float(text.split(key)[1].split()[0])


@pytest.mark.slow
def test_iss_run_learns_and_extracts_a_narrower_rhn_with_the_same_perplexity(tmp_path, tiny_corpus):
    save, out = tmp_path / "iss", tmp_path / "compact"
    proc = run("rhns.train", *ISS, f"--data_path={tiny_corpus}", f"--save_path={save}", "--display_weights")
    results = json.loads((save / "results.json").read_text())
    assert RESULT_KEYS <= set(results) and results["task"] == "rhn"
    assert results["test_ppl"] < 4  # uniform over the 13 types would be 13
    assert 0 < results["hidden_sizes"][0] < 16, results["hidden_sizes"]  # ISS removed units, not all
    assert f"Test Perplexity: {results['test_ppl']:.3f}" in proc.stdout
    log = (save / "log.csv").read_text().splitlines()
    assert len(log) == 3 and "live/rhn" in log[0] and "val_ppl" in log[0]
    assert (save / "weights.png").stat().st_size > 1000
    proc = run("rhns.extract", f"--restore_path={save}", f"--output={out}")
    assert f"Hidden sizes: {results['hidden_sizes']}" in proc.stdout
    assert json.loads((out / "config.json").read_text())["config"]["hidden_size"] == results["hidden_sizes"][0]
    sparse = run("rhns.evaluate", f"--restore_path={save}", f"--data_path={tiny_corpus}").stdout
    compact = run("rhns.evaluate", f"--restore_path={out}", f"--data_path={tiny_corpus}").stdout
    for key in ("Valid Perplexity:", "Test Perplexity:"):
        assert abs(_value(sparse, key) - _value(compact, key)) < 1e-3
    assert abs(_value(sparse, "Test Perplexity:") - results["test_ppl"]) < 1e-3


@pytest.mark.slow
def test_stopped_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path, tiny_corpus):
    args = [*ISS[:-2], f"--data_path={tiny_corpus}", "--verbose=0"]
    run("rhns.train", *args, f"--save_path={tmp_path / 'straight'}", "--max_max_epoch=2")
    run("rhns.train", *args, f"--save_path={tmp_path / 'stopped'}", "--max_max_epoch=1")
    proc = run("rhns.train", *args, f"--save_path={tmp_path / 'stopped'}", "--max_max_epoch=2")
    assert "Resuming from" in proc.stderr and "after epoch 1" in proc.stderr
    a = json.loads((tmp_path / "straight" / "results.json").read_text())
    b = json.loads((tmp_path / "stopped" / "results.json").read_text())
    assert abs(a["test_ppl"] - b["test_ppl"]) < 1e-3 and a["hidden_sizes"] == b["hidden_sizes"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{oops", "malformed JSON"),
        ('{"drop_x": 1.5}', "drop_x is a drop probability"),
        ('{"num_layers": 2}', "num_layers=2 is not supported"),
        ('{"hidden": 10}', "unknown key(s) hidden"),
        ('{"depth": "ten"}', "depth must be an integer"),
    ],
)
def test_bad_config_file_exits_with_one_clear_line(tmp_path, tiny_corpus, content, message):
    (tmp_path / "c.json").write_text(content)
    proc = run("rhns.train", "--model=test", f"--data_path={tiny_corpus}", f"--config_file={tmp_path / 'c.json'}",
               f"--save_path={tmp_path / 'out'}", check=False)
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_reference_config_files_load():
    from rhns.config import PRESETS, apply_config_file

    assert apply_config_file(PRESETS["test"], f"{ROOT}/rhns/configs/ptb_sota.json") == PRESETS["ptb_sota"]
    assert apply_config_file(PRESETS["test"], f"{ROOT}/rhns/configs/ptb_iss_sota.json") == PRESETS["ptb_iss_sota"]


def test_a_ptb_lstm_run_is_not_restored_as_an_rhn(tmp_path, tiny_corpus):
    run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path / 'lstm'}", "--max_max_epoch=1",
        "--verbose=0")
    proc = run("rhns.evaluate", f"--restore_path={tmp_path / 'lstm'}", f"--data_path={tiny_corpus}", check=False)
    assert proc.returncode == 1 and "holds a ptb run, not a rhn run" in proc.stderr
