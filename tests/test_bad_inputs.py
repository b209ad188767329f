"""Bad input across every entrypoint: one clear error line, a non-zero exit, nothing in --save_path lost.

Each case runs the program as a user would. The save_path of every training case already holds
a finished run's files; the failed run must leave each of them byte-for-byte as it was.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from common.errors import ConfigError
from tests.bidaf.corpus import write_glove, write_squad
from tests.helpers import ROOT, run, write_corpus


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    data = write_corpus(root / "ptb")
    (root / "empty").mkdir()
    for split in ("train", "valid", "test"):
        (root / "empty" / f"ptb.{split}.txt").write_text("" if split == "train" else "a b\n")
    (root / "latin1").mkdir()
    for split in ("train", "valid", "test"):
        (root / "latin1" / f"ptb.{split}.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (root / "malformed.json").write_text("{oops")
    (root / "list.json").write_text("[1, 2]")
    write_squad(root / "squad", paragraphs=(6, 2))
    (root / "bad_squad").mkdir()
    (root / "bad_squad" / "train-v1.1.json").write_text('{"data": [{"paragraphs": [{"context": "abc", "qas": 3}]}]}')
    write_glove(root / "glove.txt")
    run("bidaf.prepro", f"--source_dir={root / 'squad'}", f"--glove_path={root / 'glove.txt'}", f"--target_dir={root / 'prep'}")
    shutil.copytree(root / "prep", root / "prep_no_embeddings")
    (root / "prep_no_embeddings" / "embeddings.npy").unlink()
    (root / "glove_ragged.txt").write_text("the 0.1 0.2\nof 0.3\n")
    (root / "preds.json").write_text('{"q1": 3}')
    # a finished ptb run, to restore from and to protect
    run("ptb.train", "--model=test", f"--data_path={data}", f"--save_path={root / 'ptb_run'}", "--max_max_epoch=1",
        "--verbose=0")
    return root


def _snapshot(folder):
    found = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


CASES = [
    # (program, arguments (with {root} filled in), expected words in the error)
    ("ptb.train", ["--data_path={root}/missing"], "data directory not found"),
    ("ptb.train", ["--data_path={root}/empty"], "PTB file is empty"),
    ("ptb.train", ["--data_path={root}/latin1"], "is not UTF-8 text"),
    ("ptb.train", ["--data_path={root}/ptb", "--config_file={root}/malformed.json"], "malformed JSON"),
    ("ptb.train", ["--data_path={root}/ptb", "--config_file={root}/list.json"], "expected a JSON object"),
    ("ptb.train", ["--data_path={root}/ptb", "--no_such_flag=1"], "no_such_flag"),
    ("ptb.train", ["--data_path={root}/ptb", "--hidden_size1=0"], "hidden_size1"),
    ("ptb.train", ["--data_path={root}/ptb", "--hidden_size1=5"], "holds a run with a different config"),
    ("ptb.train", ["--data_path={root}/ptb", "--host_devices=-1"], "host_devices"),
    ("rhns.train", ["--data_path={root}/missing"], "data directory not found"),
    ("rhns.train", ["--data_path={root}/ptb", "--config_file={root}/malformed.json"], "malformed JSON"),
    ("rhns.train", ["--data_path={root}/ptb", "--depth=0"], "depth"),
    ("rhns.train", ["--data_path={root}/ptb", "--restore_path={root}/ptb_run"], "holds a ptb run, not a rhn run"),
    ("bidaf.train", ["--data_dir={root}/missing"], "run python -m bidaf.prepro first"),
    ("bidaf.train", ["--data_dir={root}/missing", "--config_file={root}/malformed.json"], "malformed JSON"),
    ("bidaf.train", ["--data_dir={root}/missing", "--batch_size=0"], "batch_size"),
    ("bidaf.train", ["--data_dir={root}/prep_no_embeddings"], "embeddings.npy not found"),
    ("bidaf.train", ["--data_dir={root}/prep"], "holds a ptb run, not a bidaf run"),
    ("bidaf.prepro", ["--source_dir={root}/bad_squad", "--glove_path={root}/glove.txt", "--target_dir={root}/out"],
     "qas"),
    ("bidaf.prepro", ["--source_dir={root}/squad", "--glove_path={root}/missing.txt", "--target_dir={root}/out"],
     "GloVe file not found"),
    ("bidaf.prepro", ["--source_dir={root}/squad", "--glove_path={root}/glove_ragged.txt", "--target_dir={root}/out"],
     "another dimension"),
    ("ptb.evaluate", ["--restore_path={root}/missing", "--data_path={root}/ptb"], "no config.json"),
    ("rhns.evaluate", ["--restore_path={root}/ptb_run", "--data_path={root}/ptb"], "holds a ptb run"),
    ("ptb.extract", ["--restore_path={root}/ptb", "--output={root}/out"], "no config.json"),
    ("ptb.export", ["--restore_path={root}/missing", "--output={root}/out"], "no config.json"),
    ("ptb.export", ["--restore_path={root}/ptb_run", "--output={root}/out", "--data_path={root}/missing"],
     "data directory not found"),
    ("bidaf.evaluate", ["--restore_path={root}/missing"], "no config.json"),
    ("bidaf.evaluate_squad", ["{root}/squad/dev-v1.1.json", "{root}/preds.json"], "expected a JSON object"),
    ("bidaf.evaluate_squad", ["{root}/squad/dev-v1.1.json", "{root}/malformed.json"], "malformed JSON"),
]

# as `python -m program`, then one line on stderr saying whether Keras was imported
_REPORT_KERAS = ("import atexit, runpy, sys; "
                 "atexit.register(lambda: print('keras loaded:', 'keras' in sys.modules, file=sys.stderr)); "
                 "sys.argv[0] = sys.argv[1]; del sys.argv[1]; runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)")


@pytest.mark.parametrize("program, args, message", CASES, ids=[f"{p}:{m}" for p, _, m in CASES])
def test_bad_input_gives_one_clear_line_and_loses_nothing(world, program, args, message):
    """...and before Keras is imported: refused in a second, not in eight."""
    args = [a.format(root=world) for a in args]
    protected = world / "ptb_run"
    before = _snapshot(protected)
    if program.endswith(".train"):  # a failed run into a folder holding a finished run
        args = ["--model=test", f"--save_path={protected}", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-c", _REPORT_KERAS, program, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode != 0
    *lines, report = proc.stderr.splitlines()
    error = "\n".join(lines)
    assert message in error, proc.stderr[-1500:]
    assert "Traceback" not in error, proc.stderr[-3000:]
    assert report == "keras loaded: False", proc.stderr[-1500:]
    assert _snapshot(protected) == before


@pytest.mark.slow
@pytest.mark.parametrize("program", ["ptb.train", "rhns.train"])
def test_same_seed_same_backend_gives_identical_results(tmp_path, tiny_corpus, program):
    results = []
    for name in ("a", "b"):
        save = tmp_path / name
        run(program, "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--max_max_epoch=2",
            "--seed=3", "--verbose=0")
        results.append(json.loads((save / "results.json").read_text()))
    for key in ("valid_ppl", "test_ppl", "hidden_sizes", "nonzero_weights"):
        assert results[0][key] == results[1][key], key


CONFIG_VALUES = [  # a value the dataclass refuses, reached through the task's JSON config file
    ("rhns.config", "ptb_iss_sota", '{"structure_wd": -0.005}', "structure_wd must be in [0, inf), got -0.005"),
    ("rhns.config", "ptb_iss_sota", '{"learning_rate": 0}', "learning_rate must be in (0, inf), got 0.0"),
    ("rhns.config", "ptb_iss_sota", '{"zero_threshold": NaN}', "zero_threshold must be a finite number, got nan"),
    ("bidaf.config", "bidaf_iss", '{"learning_rate": -0.5}', "learning_rate must be in (0, inf), got -0.5"),
    ("bidaf.config", "bidaf_iss", '{"ema_decay": 1.0}', "ema_decay must be in [0, 1), got 1.0"),
    ("bidaf.config", "bidaf_iss", '{"group_lasso": -0.001}', "group_lasso must be in [0, inf), got -0.001"),
]


@pytest.mark.parametrize("module, preset, content, message", CONFIG_VALUES, ids=[c[3] for c in CONFIG_VALUES])
def test_config_values_out_of_range_are_refused_naming_the_file(tmp_path, module, preset, content, message):
    config = importlib.import_module(module)
    (tmp_path / "c.json").write_text(content)
    with pytest.raises(ConfigError) as error:
        config.apply_config_file(config.PRESETS[preset], str(tmp_path / "c.json"))
    assert str(error.value) == f"{tmp_path / 'c.json'}: {message}"
