"""Test helpers: tiny models and corpora, a numpy reference for ISS groups, running an entrypoint."""

import os
import random
import subprocess
import sys

import keras
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RESULT_KEYS = {"task", "model", "backend", "device", "epochs", "valid_ppl", "test_ppl", "hidden_sizes", "weights", "wall_s",
               "config", "command"}


def run(module, *args, check=True, env=None):
    """python -m module args, as a user runs it; fails the test with the output tail unless check=False."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def count_traces(model) -> list:
    """A list that grows by one each time a backend traces (compiles) the model's train step.

    On JAX a train function rebuilt around this same wrapper can reuse jit's cached trace, so it
    counts what a rebuild costs only on TensorFlow; on JAX it counts the traces of one train function.
    """
    traces, step = [], model.train_step

    def counted(*args):  # (data) on TensorFlow, (state, data) on JAX
        traces.append(1)  # runs in Python only while the step is traced
        return step(*args)

    model.train_step = counted
    return traces


def stacked_lstm_model(input_dim=6, sizes=(5, 4), out=3, steps=7, batch=None):
    inp = keras.Input((steps, input_dim), batch_size=batch)
    x = inp
    for i, h in enumerate(sizes):
        x = keras.layers.LSTM(h, return_sequences=True, name=f"lstm{i}")(x)
        x = keras.layers.Dropout(0.1, name=f"drop{i}")(x)
    return keras.Model(inp, keras.layers.Dense(out, name="dense")(x))


def bidirectional_model(input_dim=6, sizes=(5, 4), out=3, steps=7):
    inp = keras.Input((steps, input_dim))
    x = keras.layers.Bidirectional(keras.layers.LSTM(sizes[0], return_sequences=True), name="bi0")(inp)
    x = keras.layers.Bidirectional(keras.layers.LSTM(sizes[1], return_sequences=True), name="bi1")(x)
    return keras.Model(inp, keras.layers.Dense(out, name="dense")(x))


def component_elements(group, k, shapes):
    """Explicit set of (path, row, col) in component k, straight from the slice definition."""
    elements = set()
    for s in group.slices:
        rows, cols = shapes[s.variable]
        if s.axis == 1:  # a row
            elements.update((s.variable, s.start + k, c) for c in range(cols))
        else:  # a column
            elements.update((s.variable, r, s.start + k) for r in range(rows))
    return elements


def numpy_group_sumsq(group, values):
    shapes = {p: v.shape for p, v in values.items()}
    return np.array(
        [sum(float(values[p][r, c]) ** 2 for p, r, c in component_elements(group, k, shapes)) for k in range(group.size)]
    )


def zero_components(model, group, components):
    """Set every weight of the given components of `group` to exactly zero."""
    by_path = {v.path: v for v in model.weights}
    for s in group.slices:
        w = np.array(by_path[s.variable].numpy())
        idx = [s.start + k for k in components]
        if s.axis == 1:
            w[idx, :] = 0
        else:
            w[:, idx] = 0
        by_path[s.variable].assign(w)


WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "<unk>", "ran", "fast", "N", "and"]
TEMPLATES = [
    "the {n} sat on the {m}",
    "a {n} ran fast",
    "the {n} and a {n} sat on a {m}",
    "N {n} ran on the {m} and <unk>",
]


def write_corpus(folder, lines=(300, 60, 60), seed=0):
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "valid", "test"), lines):
        with open(folder / f"ptb.{split}.txt", "w") as f:
            for _ in range(n):
                line = rng.choice(TEMPLATES).format(n=rng.choice(["cat", "dog"]), m=rng.choice(["mat", "dog"]))
                f.write(" " + line + " \n")
    return folder


def shared_initial_values(model) -> list[tuple[str, str]]:
    """Pairs of randomly initialized weights of a fresh model that start from the same numbers (flattened)."""
    drawn = [(v.path, np.ravel(v.numpy())) for v in model.trainable_weights
             if len(np.unique(v.numpy())) > 2]  # not a constant start (zeros, ones, a gate bias)
    return [(a, b) for i, (a, x) in enumerate(drawn) for b, y in drawn[i + 1 :]
            if x.size == y.size and np.array_equal(x, y)]
