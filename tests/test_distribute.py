"""--distribute: data-parallel training over two (virtual CPU) devices equals single-device training."""

import importlib.util
import json

import pytest

from tests.helpers import run

JAX_TWO_DEVICES = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax (pip install -e '.[jax]')")
@pytest.mark.parametrize("program", ["ptb.train", "rhns.train"])
def test_two_devices_train_like_one(tmp_path, tiny_corpus, program):
    results = {}
    for flag in ("--nodistribute", "--distribute"):
        save = tmp_path / flag
        run(program, "--model=test", f"--data_path={tiny_corpus}", f"--save_path={save}", "--max_max_epoch=2",
            "--verbose=0", flag, env=JAX_TWO_DEVICES)
        results[flag] = json.loads((save / "results.json").read_text())
    one, two = results["--nodistribute"], results["--distribute"]
    assert one["devices"] == 1 and two["devices"] == 2
    for key in ("valid_ppl", "test_ppl"):
        assert two[key] == pytest.approx(one[key], rel=1e-4)  # only the order of float sums differs


def test_distribute_on_tensorflow_is_a_clear_error(tmp_path, tiny_corpus):
    proc = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path / 'x'}",
               "--distribute", check=False, env={"KERAS_BACKEND": "tensorflow"})
    assert proc.returncode == 1 and "needs the JAX backend" in proc.stderr and "Traceback" not in proc.stderr
