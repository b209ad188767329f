"""Train a stacked LSTM language model on PTB, optionally learning ISS.

    python -m ptb.train --model=small --data_path=DATA/ptb --save_path=runs/small
    python -m ptb.train --model=sparselarge --data_path=DATA/ptb \
        --config_file=ptb/configs/structure_grouplasso.json --save_path=runs/iss
"""

import dataclasses

from absl import app, flags

from common.cli import ConfigError, train_main
from ptb.config import PRESETS, RUN_KIND, apply_config_file

FLAGS = flags.FLAGS
PTB_TRAIN_TOKENS = 929_589  # words + <eos> of ptb.train.txt
flags.DEFINE_enum("model", "small", sorted(PRESETS), "Preset: small, medium, large, sparselarge or test.")
flags.DEFINE_string("config_file", None, "iss-rnns JSON config: lr, L1, dropout, group Lasso.")
flags.DEFINE_integer("num_layers", None, "Stacked LSTMs (default: the preset's 2).", lower_bound=1)
flags.DEFINE_integer("hidden_size", None, "Embedding width, and every LSTM's unless --hidden_size1/2 (default: the "
                     "preset's); e.g. --num_layers=1 --hidden_size=256 is the setup of Lobacheva et al.", lower_bound=1)
flags.DEFINE_bool("one_hot_input", False, "The first LSTM reads one-hot words: no embedding, no input dropout, an input "
                  "kernel of vocabulary x 4H (Lobacheva et al.'s model, whose compression counts those weights). The "
                  "Bayesian LSTM looks its rows up; a stock LSTM multiplies the one-hot vectors (slow on a CPU).")
flags.DEFINE_integer("hidden_size1", None, "Width of the first LSTM (direct design).", lower_bound=1)
flags.DEFINE_integer("hidden_size2", None, "Width of the second LSTM (direct design).", lower_bound=1)
flags.DEFINE_integer("max_max_epoch", None, "Number of epochs (default: the preset's).", lower_bound=1)
flags.DEFINE_integer("max_epoch", None, "Epochs at the initial learning rate before the exponential decay starts "
                     "(default: the preset's, e.g. small's 4 of 13).", lower_bound=1)
flags.DEFINE_enum("optimizer", "gd", ["gd", "adam"], "Plain SGD (the reference) or Adam.")
flags.DEFINE_float("adam_epsilon", None, "--optimizer=adam: the epsilon added to sqrt(v) (default Keras' 1e-7). Our "
                   "loss sums num_steps tokens, so Lobacheva et al.'s Lasagne Adam (1e-8 on the per-token mean loss) is "
                   "1e-8 x num_steps here: 3.5e-7 at 35 steps.", lower_bound=0.0)
flags.DEFINE_float("learning_rate", None, "Initial learning rate (default: the config file's, else the preset's 1).",
                   lower_bound=0.0)
flags.DEFINE_float("max_grad_norm", None, "Clip the global gradient norm of the per-sequence loss (summed over the "
                   "window's steps) to this (default: the preset's).", lower_bound=0.0)
flags.DEFINE_integer("num_steps", None, "Tokens per training window (truncated BPTT; default: the preset's).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", None, "Parallel token streams per step (default: the preset's 20).", lower_bound=1)
flags.DEFINE_enum("freeze_mode", "", ["", "element"], "'element': zero weights stay zero (fine-tuning).")
flags.DEFINE_enum("method", "", ["", "iss", "l1", "set", "bayes_structured", "grow_prune"],
                  "Sparsity method: iss (group Lasso of the config file), l1 (its weight_decay), set (Sparse "
                  "Evolutionary Training), bayes_structured (sparse variational dropout on weights, neurons and "
                  "gates), grow_prune (H-LSTM, gradient growth then magnitude pruning); empty: whatever the config "
                  "file sets (none: dense).")
flags.DEFINE_integer("gate_hidden", 16, "grow_prune: hidden width of each H-LSTM gate's MLP.", lower_bound=1)
flags.DEFINE_float("target_density", 0.2, "grow_prune: final density of the H-LSTM gate layers.",
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_float("kl_weight", None, "bayes_structured: KL weight per training sequence (default: 1 / the number of "
                   "PTB training sequences, num_steps / 929,589: the ELBO).", lower_bound=0.0)
flags.DEFINE_enum("bayes_layers", "lstm", ["lstm", "all"], "bayes_structured: sparsify the LSTMs only, or the "
                  "embedding and softmax weights too (as Lobacheva et al.'s language models, whose compression counts "
                  "every weight).")
flags.DEFINE_bool("bayes_gates", True, "bayes_structured: group variables on the gate preactivations too (weights + "
                  "neurons + gates); --nobayes_gates: weights + neurons only, Lobacheva et al.'s best PTB variant.")
flags.DEFINE_enum("bayes_group_noise", "batch", ["batch", "sequence"], "bayes_structured: draw the group variables "
                  "(neurons, gates) once per batch, or once per sequence of the batch as Lobacheva et al.'s code does "
                  "(the weights are drawn once per batch either way).")
flags.DEFINE_enum("bayes_hidden_scaling", "recurrence", ["recurrence", "output"], "bayes_structured: the hidden-neuron "
                  "variables scale h where the recurrence reads it (the paper's equation), or the LSTM's output, which "
                  "the next layer reads too (Lobacheva et al.'s code: a removed hidden neuron leaves the model).")
flags.DEFINE_enum("bayes_init", "uniform", ["uniform", "lobacheva"], "bayes_structured: the preset's uniform "
                  "initialization with log sigma^2 -10, or Lobacheva et al.'s: orthogonal means (per LSTM gate, softmax), "
                  "forget-gate bias 1, log sigma^2 -6.")
flags.DEFINE_float("set_epsilon", 20.0, "SET: Erdos-Renyi parameter; density = epsilon (rows + cols) / (rows cols).",
                   lower_bound=0.0)
flags.DEFINE_float("set_zeta", 0.3, "SET: fraction of live weights pruned and regrown after each epoch.",
                   lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_float("zero_threshold", None, "Zero |w| below this after every step (default: the preset's 1e-4).",
                   lower_bound=0.0)


flags.DEFINE_float("bayes_log_alpha_clip", 10.0, "bayes_structured: the KL term clips log alpha to [-this, this], "
                   "and no weight outside feels it; Molchanov et al.'s and Lobacheva et al.'s code clip to 8.",
                   lower_bound=0.0)
flags.DEFINE_enum("bayes_sigma_variable", "log_sigma2", ["log_sigma2", "log_sigma"], "bayes_structured: the trained "
                  "noise variable of each weight holds log sigma^2, or log sigma as in Lobacheva et al.'s code (the same "
                  "model; Adam then moves log sigma^2 twice as fast).")
flags.DEFINE_enum("bayes_kl_fit", "molchanov", ["molchanov", "lobacheva"], "bayes_structured: the constants of the KL's "
                  "fitted curve: Molchanov et al.'s, or the rounded refit in Lobacheva et al.'s code (0.64, 1.5, 1.3).")


BAYES_FLAGS = ("bayes_layers", "bayes_gates", "bayes_group_noise", "bayes_hidden_scaling", "bayes_init",
               "bayes_log_alpha_clip", "bayes_sigma_variable", "bayes_kl_fit")  # = config fields


def resolve_config():
    config = PRESETS[FLAGS.model]
    if FLAGS.config_file:
        config = apply_config_file(config, FLAGS.config_file)
    for key in ("num_layers", "hidden_size", "learning_rate", "max_grad_norm", "num_steps", "batch_size"):
        if getattr(FLAGS, key) is not None:
            config = dataclasses.replace(config, **{key: getattr(FLAGS, key)})
    changes = {"optimizer": FLAGS.optimizer, "freeze_mode": FLAGS.freeze_mode}
    if FLAGS.adam_epsilon is not None:
        if FLAGS.optimizer != "adam":
            raise ConfigError("--adam_epsilon needs --optimizer=adam")
        changes["adam_epsilon"] = FLAGS.adam_epsilon
    sizes = (FLAGS.hidden_size1, FLAGS.hidden_size2)
    if any(s is not None for s in sizes):
        if config.num_layers != 2:
            raise ConfigError("--hidden_size1/--hidden_size2 need a 2-layer model")
        changes["hidden_sizes"] = tuple(s if s is not None else config.hidden_size for s in sizes)
    if FLAGS.max_max_epoch:
        changes["max_max_epoch"] = FLAGS.max_max_epoch
    if FLAGS.max_epoch is not None:
        if config.lr_schedule != "exponential":
            raise ConfigError(f"--max_epoch sets the exponential decay; --model={FLAGS.model} decays by steps "
                              f"(x{config.lr_decay} every {config.lr_step_epochs} epochs)")
        changes["max_epoch"] = FLAGS.max_epoch
    if FLAGS.zero_threshold is not None:
        changes["zero_threshold"] = FLAGS.zero_threshold
    if FLAGS.one_hot_input:
        changes["one_hot_input"] = True
    for name in BAYES_FLAGS:  # set away from its default without the method it belongs to
        if FLAGS[name].value != FLAGS[name].default and FLAGS.method != "bayes_structured":
            flag = f"--no{name}" if FLAGS[name].value is False else f"--{name}"
            raise ConfigError(f"{flag} needs --method=bayes_structured")
    if FLAGS.method == "set":
        if config.group_lasso or config.weight_decay or config.row_col_lasso:
            raise ConfigError("--method=set trains without penalties; drop the group Lasso / L1 of the config file")
        changes.update(set_epsilon=FLAGS.set_epsilon, set_zeta=FLAGS.set_zeta)
    elif FLAGS.method == "bayes_structured":
        if config.group_lasso or config.weight_decay or config.row_col_lasso:
            raise ConfigError("--method=bayes_structured has its own KL term; drop the group Lasso / L1 of the config file")
        changes["kl_weight"] = FLAGS.kl_weight if FLAGS.kl_weight is not None else config.num_steps / PTB_TRAIN_TOKENS
        changes.update({name: FLAGS[name].value for name in BAYES_FLAGS})
    elif FLAGS.method == "grow_prune":
        if config.group_lasso or config.weight_decay or config.row_col_lasso:
            raise ConfigError("--method=grow_prune trains without penalties; drop the group Lasso / L1 of the config file")
        changes.update(gate_hidden=FLAGS.gate_hidden, target_density=FLAGS.target_density)
    elif FLAGS.method == "iss" and not config.group_lasso:
        raise ConfigError("--method=iss needs a group Lasso strength: a --config_file with grouplasso.global_decay")
    elif FLAGS.method == "l1" and not config.weight_decay:
        raise ConfigError("--method=l1 needs an L1 strength: a --config_file with weight_decay (e.g. ptb/configs/l1.json)")
    return dataclasses.replace(config, **changes)


main = train_main("ptb.train", RUN_KIND, resolve_config, default_save_path="runs/ptb")

if __name__ == "__main__":
    app.run(main)
