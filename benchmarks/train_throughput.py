"""Training throughput of the PTB LSTM: our ISS model vs the same model without ISS vs plain Keras.

    python -m benchmarks.train_throughput --hidden_size=200 --num_steps=20       # PTB small, CPU
    KERAS_BACKEND=jax python -m benchmarks.train_throughput --hidden_size=1500 --num_steps=35

Variants, timed in alternation (round robin, after a warm-up fit that compiles):
  plain_keras: a stateful keras.layers.LSTM stack trained with model.fit, nothing else;
  ours_dense:  ptb.model's training model with no penalty and no thresholds;
  ours_iss:    the same with the ISS group Lasso in the loss and zero-thresholding after each step;
  torch_cudnn: torch.nn.LSTM with the same shapes, SGD + clipping (only when torch is importable),
               cuDNN allowed TF32 (torch's default for cuDNN; JAX on Hopper uses TF32 for float32 dots too);
  torch_cudnn_fp32: the same in strict float32 (TF32 off for cuDNN and matmuls).
Prints ms/step and words/sec (median over rounds) and the ISS overhead over plain Keras.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time

import keras
import numpy as np
from absl import app, flags

from ptb.config import PRESETS
from ptb.model import attach_thresholds, build_training_model, make_optimizer, sequence_cross_entropy

FLAGS = flags.FLAGS
flags.DEFINE_integer("hidden_size", 200, "Embedding and LSTM width.")
flags.DEFINE_integer("num_layers", 2, "LSTM layers.")
flags.DEFINE_integer("num_steps", 20, "Unrolled steps per window.")
flags.DEFINE_integer("batch_size", 20, "Batch size.")
flags.DEFINE_integer("vocab_size", 10000, "Vocabulary size.")
flags.DEFINE_integer("steps", 100, "Timed training steps per round and variant.")
flags.DEFINE_integer("rounds", 3, "Rounds of the round robin.")
flags.DEFINE_float("group_lasso", 0.00245, "ISS strength of the ours_iss variant.")
flags.DEFINE_string("variants", "plain_keras,ours_dense,ours_iss,torch_cudnn,torch_cudnn_fp32", "Which variants to time.")
flags.DEFINE_string("output", None, "Write the figures as JSON here.")


def _config(iss: bool):
    base = PRESETS["small"]
    return dataclasses.replace(
        base, hidden_size=FLAGS.hidden_size, num_layers=FLAGS.num_layers, num_steps=FLAGS.num_steps,
        batch_size=FLAGS.batch_size, keep_prob=0.6, group_lasso=FLAGS.group_lasso if iss else 0.0,
    )


def _data():
    rng = np.random.default_rng(0)
    shape = (FLAGS.steps * FLAGS.batch_size, FLAGS.num_steps)
    return rng.integers(0, FLAGS.vocab_size, shape).astype("int32"), rng.integers(0, FLAGS.vocab_size, shape).astype("int32")


def _plain_keras():
    H, T, B = FLAGS.hidden_size, FLAGS.num_steps, FLAGS.batch_size
    layers = [keras.Input(batch_shape=(B, T), dtype="int32"), keras.layers.Embedding(FLAGS.vocab_size, H),
              keras.layers.Dropout(0.4)]
    for _ in range(FLAGS.num_layers):
        layers += [keras.layers.LSTM(H, return_sequences=True, stateful=True), keras.layers.Dropout(0.4)]
    model = keras.Sequential(layers + [keras.layers.Dense(FLAGS.vocab_size)])
    model.compile(optimizer=keras.optimizers.SGD(1.0, global_clipnorm=5), loss=sequence_cross_entropy)
    return model


def _ours(iss: bool):
    config = _config(iss)
    model, _ = build_training_model(config, FLAGS.vocab_size, seed=0)
    model.compile(optimizer=make_optimizer(config), loss=sequence_cross_entropy)
    if iss:
        attach_thresholds(model, config)
    return model


def _keras_runner(model):
    x, y = _data()

    def run():
        start = time.perf_counter()
        model.fit(x, y, batch_size=FLAGS.batch_size, epochs=1, shuffle=False, verbose=0)
        return time.perf_counter() - start

    run()  # compile
    return run


def _torch_runner(tf32: bool):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    H, V = FLAGS.hidden_size, FLAGS.vocab_size

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(V, H)
            self.lstm = torch.nn.LSTM(H, H, FLAGS.num_layers, batch_first=True, dropout=0.4)
            self.drop = torch.nn.Dropout(0.4)
            self.softmax = torch.nn.Linear(H, V)

        def forward(self, x, state):
            out, state = self.lstm(self.drop(self.embedding(x)), state)
            return self.softmax(self.drop(out)), state

    model = LM().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    x, y = (torch.as_tensor(a, device=device).view(FLAGS.steps, FLAGS.batch_size, FLAGS.num_steps) for a in _data())
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")

    def run():
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
        state = None
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(FLAGS.steps):
            logits, state = model(x[i], state)
            state = tuple(s.detach() for s in state)
            loss = loss_fn(logits.reshape(-1, V), y[i].reshape(-1)) / FLAGS.batch_size
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    run()
    return run, f"torch {torch.__version__} {device}, tf32={tf32}"


def main(argv):
    del argv
    wanted = FLAGS.variants.split(",")
    runners, notes = {}, {}
    if "plain_keras" in wanted:
        runners["plain_keras"] = _keras_runner(_plain_keras())
    if "ours_dense" in wanted:
        runners["ours_dense"] = _keras_runner(_ours(iss=False))
    if "ours_iss" in wanted:
        runners["ours_iss"] = _keras_runner(_ours(iss=True))
    for name, tf32 in (("torch_cudnn", True), ("torch_cudnn_fp32", False)):
        if name in wanted:
            try:
                runners[name], notes[name] = _torch_runner(tf32)
            except ImportError:
                print(f"{name}: skipped (torch is not importable)")
    times = {name: [] for name in runners}
    for _ in range(FLAGS.rounds):
        for name, run in runners.items():
            times[name].append(run())
    words = FLAGS.steps * FLAGS.batch_size * FLAGS.num_steps
    report = {"backend": keras.backend.backend(), "hidden_size": FLAGS.hidden_size, "num_layers": FLAGS.num_layers,
              "num_steps": FLAGS.num_steps, "batch_size": FLAGS.batch_size, "steps": FLAGS.steps,
              "rounds": FLAGS.rounds, "variants": {}}
    for name, seconds in times.items():
        median = statistics.median(seconds)
        report["variants"][name] = {"ms_per_step": 1000 * median / FLAGS.steps, "words_per_sec": words / median,
                                    "all_seconds": seconds, "note": notes.get(name, "")}
        print(f"{name:12s} {1000 * median / FLAGS.steps:8.2f} ms/step {words / median:10.0f} words/sec  {notes.get(name, '')}")
    v = report["variants"]
    if "ours_iss" in v and "plain_keras" in v:
        report["iss_overhead_vs_plain"] = v["ours_iss"]["ms_per_step"] / v["plain_keras"]["ms_per_step"] - 1
        print(f"ISS overhead over plain Keras: {100 * report['iss_overhead_vs_plain']:+.1f}%")
    if "ours_iss" in v and "torch_cudnn" in v:
        report["iss_vs_torch"] = v["ours_iss"]["ms_per_step"] / v["torch_cudnn"]["ms_per_step"]
        print(f"ours_iss / torch_cudnn step time: {report['iss_vs_torch']:.2f}x")
    if "ours_iss" in v and "torch_cudnn_fp32" in v:
        report["iss_vs_torch_fp32"] = v["ours_iss"]["ms_per_step"] / v["torch_cudnn_fp32"]["ms_per_step"]
        print(f"ours_iss / torch_cudnn_fp32 step time: {report['iss_vs_torch_fp32']:.2f}x")
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    app.run(main)
