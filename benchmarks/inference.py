"""Inference speedup of an ISS-compact PTB model over its baseline, measured as the paper did.

    # synthetic: random weights of the paper's shapes
    python -m benchmarks.inference --hidden_sizes=373,315 --baseline_sizes=1500,1500
    # our runs: a sparse run (extracted here) or a compact one, against a baseline run
    python -m benchmarks.inference --restore_path=runs/iss --baseline=runs/large

Both models are the full forward pass (embedding, LSTMs, softmax) on batch 10 x 30 unrolled steps
(ISS paper, Table 1), timed in alternation after a warm-up, in one process. Prints median
latencies, the speedup (and its lowest and highest over the rounds, the timing's own spread),
weights and mult-adds of each, their ratio, batch-1 / 1-step latency, the CPU's best measured
matrix-multiply rate (at the model's own product shapes) and how far each latency is from the
bound its mult-adds give at that rate. With --tflite, the same on the TFLite interpreter
(float32 exports).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time

import keras
import numpy as np
from absl import app, flags

from common.export import tflite_runner, to_tflite
from common.lm import copy_trainable_weights
from ptb.config import PRESETS
from ptb.model import deployment_model, window_model

FLAGS = flags.FLAGS
flags.DEFINE_string("hidden_sizes", None, "Synthetic compact model: LSTM widths, e.g. 373,315.")
flags.DEFINE_string("baseline_sizes", "1500,1500", "Synthetic baseline: LSTM widths.")
flags.DEFINE_string("restore_path", None, "A ptb run (sparse: extracted here; or a ptb.extract output).")
flags.DEFINE_integer("baseline_embedding_size", None, "Embedding width of the synthetic baseline (default: the compact "
                     "model's; give the dense width when the compact model was extracted with a narrower embedding).")
flags.DEFINE_string("baseline", None, "A ptb run to compare against (default: synthetic --baseline_sizes).")
flags.DEFINE_integer("embedding_size", 1500, "Embedding width of synthetic models (the paper keeps 1500).")
flags.DEFINE_integer("vocab_size", 10000, "Vocabulary of synthetic models.")
flags.DEFINE_bool("one_hot_input", False, "Synthetic models read one-hot words, no embedding (Lobacheva et al.'s model; "
                  "a run trained with --one_hot_input sets it for itself and the synthetic baseline).")
flags.DEFINE_integer("batch_size", 10, "Batch size (paper: 10).")
flags.DEFINE_integer("num_steps", 30, "Unrolled steps (paper: 30).")
flags.DEFINE_integer("repeats", 20, "Timed calls per model and round.")
flags.DEFINE_integer("rounds", 5, "Rounds of alternation.")
flags.DEFINE_bool("tflite", False, "Also time float32 TFLite exports of both models.")
flags.DEFINE_bool("tflite_int8", False, "With --tflite, also time dynamic-range int8 TFLite exports.")
flags.DEFINE_bool("hoist_inputs", False, "Both models multiply each LSTM's input kernel once over all B x T tokens "
                  "instead of once per step (common.layers.LSTM(hoist_inputs=True); same outputs).")
flags.DEFINE_bool("xla", False, "TensorFlow backend: compile the forward pass with XLA (tf.function(jit_compile=True)); "
                  "the JAX backend always does.")
flags.DEFINE_string("output", None, "Write the figures as JSON here.")
flags.register_validator("repeats", lambda n: n >= 1, "--repeats must be at least 1 (timed calls per model and round)")
flags.register_validator("rounds", lambda n: n >= 1, "--rounds must be at least 1 (rounds of alternation)")


def mult_adds_per_step(embedding_size: int, sizes, vocab_size: int, one_hot: bool = False) -> int:
    """Per token: each LSTM 4H(D+H) (gate pre-activations), the softmax H_last x V; the embedding is a lookup.

    one_hot: the first LSTM multiplies a one-hot word (D = V), as the stock layer does."""
    total, inputs = 0, vocab_size if one_hot else embedding_size
    for h in sizes:
        total += 4 * h * (inputs + h)
        inputs = h
    return total + inputs * vocab_size


def _inference_model(sizes, embedding_size, vocab_size, batch_size, num_steps, hoist_inputs=False, one_hot=False):
    config = dataclasses.replace(PRESETS["large"], hidden_size=embedding_size, hidden_sizes=tuple(sizes), num_layers=len(sizes),
                                 one_hot_input=one_hot)
    return window_model(config, vocab_size, batch_size, num_steps, hoist_inputs)


def _from_run(path, batch_size, num_steps, hoist_inputs=False):
    """(compact inference model, sizes, embedding width, vocabulary, one-hot input) of a ptb run, extracted as

    ptb.extract does (ISS: the live components; Bayesian: the stock-LSTM form without its unread units)."""
    model, config, vocab = deployment_model(path, batch_size, num_steps, hoist_inputs)
    return model, list(config.lstm_sizes), config.hidden_size, vocab, config.one_hot_input


def _compiled_forward(model):
    """A compiled forward pass for the backend, so Python overhead does not dominate small models."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda x: model(x, training=False), jit_compile=FLAGS.xla)
        return lambda x: fn(x).numpy()
    if keras.backend.backend() == "jax":
        import jax

        state = [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]
        fn = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])
        return lambda x: np.asarray(jax.block_until_ready(fn(*state, x)))
    return lambda x: np.asarray(model.predict_on_batch(x))


def _alternate(callables: dict, x_by_name: dict, repeats: int, rounds: int) -> dict:
    """Per model, one list of call times per round. The order of the models flips every round, so

    a drift of the machine's speed, or a cost of going first, falls on both models alike."""
    for name, fn in callables.items():  # warm-up (compilation, caches)
        for _ in range(3):
            fn(x_by_name[name])
    names = list(callables)
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            fn, x, times = callables[name], x_by_name[name], []
            for _ in range(repeats):
                start = time.perf_counter()
                fn(x)
                times.append(time.perf_counter() - start)
            samples[name].append(times)
    return samples


def median_latency(rounds_of_times: list) -> float:
    return statistics.median(t for times in rounds_of_times for t in times)


def speedup_over_rounds(samples: dict) -> list:
    """[lowest, highest] of baseline / compact median latency, each round on its own: how far one

    timing of the same two models moves (two models of equal shapes should straddle 1.00x)."""
    ratios = [statistics.median(b) / statistics.median(c) for b, c in zip(samples["baseline"], samples["compact"])]
    return [min(ratios), max(ratios)]


def matmul_rate(batch: int, inner: int, outer: int, repeats: int = 50) -> float:
    """Measured mult-adds per second of a [batch, inner] x [inner, outer] float32 product on this backend."""
    a = np.random.normal(size=(batch, inner)).astype("float32")
    b = np.random.normal(size=(inner, outer)).astype("float32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        a, b = tf.constant(a), tf.constant(b)

        @tf.function
        def loop():
            acc = tf.zeros((batch, outer))
            for _ in tf.range(repeats):
                acc += tf.matmul(a, b)
            return acc

        loop()
        start = time.perf_counter()
        loop().numpy()
        return repeats * batch * inner * outer / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return repeats * batch * inner * outer / (time.perf_counter() - start)


def main(argv):
    del argv
    B, T, hoist = FLAGS.batch_size, FLAGS.num_steps, FLAGS.hoist_inputs
    if FLAGS.restore_path:
        compact, sizes, emb, vocab, one_hot = _from_run(FLAGS.restore_path, B, T, hoist)
    else:
        if not FLAGS.hidden_sizes:
            raise app.UsageError("give --hidden_sizes (synthetic) or --restore_path")
        sizes = [int(s) for s in FLAGS.hidden_sizes.split(",")]
        emb, vocab, one_hot = FLAGS.embedding_size, FLAGS.vocab_size, FLAGS.one_hot_input
        compact = _inference_model(sizes, emb, vocab, B, T, hoist, one_hot)
    if FLAGS.baseline:
        baseline, base_sizes, base_emb, _, base_one_hot = _from_run(FLAGS.baseline, B, T, hoist)
    else:
        base_sizes, base_emb = [int(s) for s in FLAGS.baseline_sizes.split(",")], FLAGS.baseline_embedding_size or emb
        base_one_hot = one_hot  # the dense model of the same kind
        baseline = _inference_model(base_sizes, base_emb, vocab, B, T, hoist, base_one_hot)
    kinds = {"compact": (sizes, emb, one_hot), "baseline": (base_sizes, base_emb, base_one_hot)}

    models = {"compact": compact, "baseline": baseline}
    x = np.random.randint(0, vocab, size=(B, T)).astype("int32")
    timed = _alternate({n: _compiled_forward(m) for n, m in models.items()}, {n: x for n in models},
                       FLAGS.repeats, FLAGS.rounds)
    latency = {n: median_latency(t) for n, t in timed.items()}
    one_step = {n: _inference_model(s, e, vocab, 1, 1, hoist, o) for n, (s, e, o) in kinds.items()}
    for n, m in one_step.items():
        copy_trainable_weights(models[n], m)
    x1 = np.random.randint(0, vocab, size=(1, 1)).astype("int32")
    timed_1 = _alternate({n: _compiled_forward(m) for n, m in one_step.items()}, {n: x1 for n in one_step},
                         FLAGS.repeats, FLAGS.rounds)
    latency_1 = {n: median_latency(t) for n, t in timed_1.items()}

    madds = {n: mult_adds_per_step(e, s, vocab, o) * B * T for n, (s, e, o) in kinds.items()}
    weights = {n: int(sum(np.prod(v.shape) for v in m.trainable_weights)) for n, m in models.items()}
    # The model's largest products see all B*T tokens at once (input projection, softmax); the
    # best rate over those shapes makes (mult-adds / rate) a true lower bound on latency.
    H, first_inputs = max(base_sizes), vocab if base_one_hot else base_emb
    rate = max(matmul_rate(B * T, first_inputs, 4 * H), matmul_rate(B * T, H, vocab), matmul_rate(B, first_inputs + H, 4 * H))
    report = {
        "backend": keras.backend.backend(), "xla": FLAGS.xla or keras.backend.backend() == "jax", "hoist_inputs": hoist,
        "batch_size": B, "num_steps": T,
        "hidden_sizes": {"compact": sizes, "baseline": base_sizes},
        "embedding_size": {n: None if o else e for n, (_, e, o) in kinds.items()},  # None: one-hot words
        "one_hot_input": {n: o for n, (_, _, o) in kinds.items()},
        "latency_ms": {n: 1000 * v for n, v in latency.items()},
        "latency_batch1_step1_ms": {n: 1000 * v for n, v in latency_1.items()},
        "speedup": latency["baseline"] / latency["compact"],
        "speedup_over_rounds": speedup_over_rounds(timed), "rounds": FLAGS.rounds, "repeats": FLAGS.repeats,
        "speedup_batch1_step1": latency_1["baseline"] / latency_1["compact"],
        "speedup_batch1_step1_over_rounds": speedup_over_rounds(timed_1),
        "weights": weights, "mult_adds": madds, "mult_add_reduction": madds["baseline"] / madds["compact"],
        "matmul_mult_adds_per_s": rate,
        "latency_over_bound": {n: latency[n] / (madds[n] / rate) for n in models},
    }
    if FLAGS.tflite:
        variants = [("tflite", False)] + ([("tflite_int8", True)] if FLAGS.tflite_int8 else [])
        for key, quantize in variants:
            runners = {}
            for n, m in models.items():
                with tempfile.TemporaryDirectory() as d:
                    m.export(d, format="tf_saved_model", verbose=False)
                    runners[n] = tflite_runner(to_tflite(d, int8=quantize), x.shape)
            tfl = _alternate(runners, {n: x for n in runners}, FLAGS.repeats, FLAGS.rounds)
            report[f"{key}_latency_ms"] = {n: 1000 * median_latency(t) for n, t in tfl.items()}
            report[f"{key}_speedup"] = report[f"{key}_latency_ms"]["baseline"] / report[f"{key}_latency_ms"]["compact"]
            report[f"{key}_speedup_over_rounds"] = speedup_over_rounds(tfl)

    print(f"backend {report['backend']}{' (XLA)' if report['xla'] else ''}, batch {B} x {T} steps"
          + (", input products hoisted" if hoist else "") + (", one-hot input" if one_hot or base_one_hot else ""))
    for n in models:
        print(f"{n:9s} sizes {report['hidden_sizes'][n]}  weights {weights[n] / 1e6:6.2f}M  mult-adds {madds[n] / 1e6:8.1f}M"
              f"  latency {report['latency_ms'][n]:8.2f} ms  (batch 1 x 1: {report['latency_batch1_step1_ms'][n]:.3f} ms)"
              f"  {report['latency_over_bound'][n]:.2f}x its mult-add bound")
    low, high = report["speedup_over_rounds"]
    print(f"speedup {report['speedup']:.2f}x (round by round {low:.2f}-{high:.2f}x over {FLAGS.rounds} rounds; "
          f"batch 1 x 1: {report['speedup_batch1_step1']:.2f}x); "
          f"mult-add reduction {report['mult_add_reduction']:.2f}x; matmul rate {rate / 1e9:.1f} G mult-adds/s")
    for key in ("tflite", "tflite_int8"):
        if f"{key}_speedup" in report:
            ms = ", ".join(f"{n} {v:.2f} ms" for n, v in report[f"{key}_latency_ms"].items())
            low, high = report[f"{key}_speedup_over_rounds"]
            print(f"{key} latency {ms}; speedup {report[f'{key}_speedup']:.2f}x (round by round {low:.2f}-{high:.2f}x)")
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    app.run(main)
