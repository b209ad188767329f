"""Where a PTB run's Adam epsilon matters: its second moments against ours and another epsilon, and its gradient norm.

    python -m benchmarks.adam_epsilon runs/RUN --data_path=.data/ptb [--windows=20] [--their_epsilon=1e-8]

Adam steps by m / (sqrt(v) + epsilon). Our loss sums num_steps tokens, Lobacheva et al.'s (Lasagne, epsilon
1e-8) is the per-token mean, so their epsilon is 1e-8 x num_steps in our units, 3.5 times Keras' 1e-7 at 35
steps. For an entry with the same m and v, their step is (sqrt(v) + ours) / (sqrt(v) + theirs) of ours: the
report counts, per variable, the entries where that is below 0.9 and 0.99, from the run's last checkpoint
(its Adam state). It also measures the global gradient norm of the training loss over the first `windows`
windows of an epoch, divided by num_steps to read in their log's units (which prints it per epoch), to show
whether the gradient clip acts at all. Prints one JSON line. TensorFlow backend (a gradient tape).
"""

from __future__ import annotations

import json

import numpy as np
from absl import app, flags

flags.DEFINE_string("data_path", None, "PTB directory (ptb.{train,valid,test}.txt).", required=True)
flags.DEFINE_integer("windows", 20, "Training windows to measure the gradient norm over (0: skip).", lower_bound=0)
flags.DEFINE_float("their_epsilon", 1e-8, "The other Adam's epsilon, on the per-token mean loss.", lower_bound=0.0)
FLAGS = flags.FLAGS


def step_ratio(sqrt_v: np.ndarray, ours: float, theirs: float) -> np.ndarray:
    """Their Adam step over ours for entries with the same moments: (sqrt(v) + ours) / (sqrt(v) + theirs)."""
    return (sqrt_v + ours) / (sqrt_v + theirs)


def second_moment_report(sqrt_v: np.ndarray, ours: float, theirs: float) -> dict:
    """Quantiles of sqrt(v) and the share of entries whose step the other epsilon shrinks by > 10% and > 1%.

    Entries that never had a gradient (v = 0) never move under either epsilon: counted, not in the shares.
    """
    sqrt_v = np.asarray(sqrt_v, dtype=np.float64).ravel()
    moved = sqrt_v[sqrt_v > 0]
    ratio = step_ratio(moved, ours, theirs)
    quantiles = np.quantile(moved, [0.01, 0.1, 0.5, 0.9]) if moved.size else [np.nan] * 4
    return {"entries": int(sqrt_v.size), "never_moved": int(sqrt_v.size - moved.size),
            "sqrt_v_q01_q10_q50_q90": [float(f"{q:.3g}") for q in quantiles],
            "their_step_below_0.9": float(np.mean(ratio < 0.9)) if moved.size else 0.0,
            "their_step_below_0.99": float(np.mean(ratio < 0.99)) if moved.size else 0.0}


def gradient_norms(model, x, y, batch_size: int, windows: int) -> list[float]:
    """Global gradient norm of the training loss (penalty included, noise on) of windows 0..windows-1 in order."""
    import tensorflow as tf

    from common.loop import reset_rnn_states

    reset_rnn_states(model)
    norms = []
    for i in range(min(windows, len(x) // batch_size)):
        xb, yb = x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=xb, y=yb, y_pred=model(xb, training=True), training=True)
        norms.append(float(tf.linalg.global_norm(tape.gradient(loss, model.trainable_variables))))
    return norms


def run_report(run_path: str, data_path: str, windows: int, their_epsilon: float) -> dict:
    from common.experiment import load_weights_into
    from common.lm import batch_windows, sequence_cross_entropy
    from common.loop import build_before_fit
    from common.run_folder import read_run_config
    from ptb.model import TASK

    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("benchmarks.adam_epsilon takes gradients with TensorFlow; "
                         f"KERAS_BACKEND is {keras.backend.backend()}")
    config, _ = read_run_config(TASK, run_path)
    if config.optimizer != "adam":
        raise SystemExit(f"{run_path} trained with {config.optimizer}, not Adam: no second moments to read")
    data, vocab = TASK.load_data(data_path)
    x, y, _ = batch_windows(data["train"], config.batch_size, config.num_steps)
    model, _ = TASK.training_model(config, len(vocab), 0)
    model.compile(optimizer=TASK.make_optimizer(config), loss=sequence_cross_entropy)
    build_before_fit(model, (x[: config.batch_size], y[: config.batch_size]))
    state = load_weights_into(model, run_path, with_optimizer=True)
    optimizer = model.optimizer
    steps = int(optimizer.iterations.numpy())
    theirs = their_epsilon * config.num_steps
    variables = {}
    for variable, velocity in zip(model.trainable_variables, optimizer._velocities):  # Keras' Adam keeps v in this order
        if tuple(velocity.shape) != tuple(variable.shape):
            raise SystemExit(f"Adam's second moments do not line up with the variables ({variable.path}); Keras changed?")
        sqrt_v = np.sqrt(np.asarray(velocity.numpy(), dtype=np.float64))  # Adam adds epsilon to sqrt of the raw v
        variables[variable.path] = second_moment_report(sqrt_v, float(optimizer.epsilon), theirs)
    norms = np.array(gradient_norms(model, x, y, config.batch_size, windows)) / config.num_steps
    grad = ({"windows": int(norms.size), "mean_per_token": float(norms.mean()), "max_per_token": float(norms.max()),
             "clip_per_token": config.max_grad_norm / config.num_steps} if norms.size else {})
    return {"run": run_path, "epochs": state["epoch"], "adam_steps": steps, "epsilon": float(optimizer.epsilon),
            "their_epsilon_per_token": their_epsilon, "their_epsilon_here": theirs, "gradient_norm": grad,
            "variables": variables}


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise app.UsageError(__doc__.strip().splitlines()[2].strip())
    print(json.dumps(run_report(argv[1], FLAGS.data_path, FLAGS.windows, FLAGS.their_epsilon)))


if __name__ == "__main__":
    app.run(main)
