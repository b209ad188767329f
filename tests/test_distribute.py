"""--distribute: data-parallel training over two (virtual CPU) devices equals single-device training.

JAX: keras.distribution.DataParallel; TensorFlow: tf.distribute.MirroredStrategy with the host CPU
split into logical devices (--host_devices=2).
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, run

NEEDS_JAX = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax (pip install -e '.[jax]')")
# lr 0.5: at lr 1 the tiny run is chaotic enough that the order of float sums (one device or two) moves
# components across the zero threshold; at 0.5 both runs keep the same weights to about 1e-7
ISS_CONFIG = {
    "learning_rate": 0.5, "weight_decay": 0.0, "dropout_keep_prob": 1.0,
    "grouplasso": {"global_decay": 0.06, "lstm_0": {"structure_decay_multi": 1.0, "coupled_layer": "lstm_1"},
                   "lstm_1": {"structure_decay_multi": 1.0, "coupled_layer": "softmax"}},
}


def train_one_and_two(tmp_path, corpus, program, backend, *args):
    results = {}
    for flag in ("--nodistribute", "--distribute"):
        save = tmp_path / flag
        run(program, "--model=test", f"--data_path={corpus}", f"--save_path={save}", "--verbose=0", "--host_devices=2",
            flag, *args, env={"KERAS_BACKEND": backend})
        results[flag] = json.loads((save / "results.json").read_text())
    one, two = results["--nodistribute"], results["--distribute"]
    assert one["devices"] == 1 and two["devices"] == 2
    return one, two


@pytest.mark.slow
@pytest.mark.parametrize("program, backend", [  # RHN on TensorFlow: same path as the LSTM (checked by hand, not here)
    pytest.param("ptb.train", "jax", marks=NEEDS_JAX), pytest.param("rhns.train", "jax", marks=NEEDS_JAX),
    ("ptb.train", "tensorflow")])
def test_two_devices_train_like_one(tmp_path, tiny_corpus, program, backend):
    # the test presets clip gradients (max_grad_norm 5): on TensorFlow the clip must see the summed gradient
    one, two = train_one_and_two(tmp_path, tiny_corpus, program, backend, "--max_max_epoch=2")
    for key in ("valid_ppl", "test_ppl"):
        assert two[key] == pytest.approx(one[key], rel=1e-4)  # only the order of float sums differs


@pytest.mark.slow
def test_two_devices_learn_the_same_iss_structure_on_tensorflow(tmp_path, tiny_corpus):
    """Group Lasso counted once (not once per replica) and the zero threshold applied to the summed update."""
    config = tmp_path / "iss.json"
    config.write_text(json.dumps(ISS_CONFIG))
    one, two = train_one_and_two(tmp_path, tiny_corpus, "ptb.train", "tensorflow", f"--config_file={config}",
                                 "--max_max_epoch=1", "--zero_threshold=0.01")
    assert one["hidden_sizes"] != [16, 16]  # the run does remove units
    assert two["hidden_sizes"] == one["hidden_sizes"] and two["nonzero_weights"] == one["nonzero_weights"]
    assert two["test_ppl"] == pytest.approx(one["test_ppl"], rel=1e-3)


@pytest.mark.parametrize("backend", [pytest.param("jax", marks=NEEDS_JAX), "tensorflow"])
def test_a_batch_that_does_not_split_is_a_clear_error(tmp_path, tiny_corpus, backend):
    proc = run("ptb.train", "--model=test", f"--data_path={tiny_corpus}", f"--save_path={tmp_path / 'x'}",
               "--distribute", "--host_devices=3", check=False, env={"KERAS_BACKEND": backend})
    assert proc.returncode == 1 and "batch size 4 does not split over 3 devices" in proc.stderr
    assert "Traceback" not in proc.stderr


DROPOUT_MASKS = """
import json, sys
from common.distribute import data_parallel, per_replica_seeds, use_host_devices
use_host_devices(2)
import keras, tensorflow as tf
placement = data_parallel(4)
with placement.scope():
    tokens = keras.Input(batch_shape=(2, 256))
    model = keras.Model(tokens, keras.layers.Dropout(0.5, seed=1)(tokens))
if sys.argv[1] == "per_replica":
    per_replica_seeds(model)
out = placement.strategy.run(tf.function(lambda x: model(x, training=True)), args=(tf.ones((2, 256)),))
first, second = [r.numpy() for r in placement.strategy.experimental_local_results(out)]
print(json.dumps({"same": bool((first == second).all()), "dropped": float((first == 0).mean())}))
"""


@pytest.mark.parametrize("seeds", ["keras", "per_replica"])
def test_replicas_draw_their_own_dropout_masks_on_tensorflow(seeds):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-c", DROPOUT_MASKS, seeds], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    masks = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0.4 < masks["dropped"] < 0.6
    # Keras alone gives every replica the same seed (the gap per_replica_seeds closes)
    assert masks["same"] is (seeds == "keras")
