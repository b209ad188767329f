"""The stacked-LSTM language model of Zaremba et al. and its ISS training setup.

Embedding -> dropout -> [LSTM -> dropout] x L -> Dense softmax, with stateful LSTMs so the state
is carried from window to window, uniform(-init_scale, init_scale) initialization, zero LSTM
biases and no forget-gate bias (as the TF tutorial that iss-rnns builds on). one_hot_input: no
embedding and no input dropout; the first LSTM reads one-hot words (Lobacheva et al.'s model).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

import common
import common.bayes
import common.evolution
import common.experiment
import common.extraction
import common.hlstm
import common.stats
from common import layers as iss_layers
from common.experiment import LanguageModelTask
from common.lm import (
    copy_trainable_weights,
    sequence_cross_entropy,  # noqa: F401  (the PTB training loss)
    uniform_initializer,
)
from ptb.config import RUN_KIND, PTBConfig


def build_language_model(config: PTBConfig, vocab_size: int, batch_size: int, num_steps: int,
                         seed: int | None = None, name: str = "ptb_lm", stateful: bool = True,
                         unroll: bool = False, hoist_inputs: bool = False) -> keras.Model:
    """stateful=False (and unroll=True, for TFLite) give the same weights layout for inference and export;

    hoist_inputs=True gives CPU inference one input-kernel product per layer instead of one per step."""
    init = uniform_initializer(config.init_scale, seed)  # each weight its own draw
    rate = 1.0 - config.keep_prob
    tokens = keras.Input(batch_shape=(batch_size, num_steps), dtype="int32", name="tokens")
    bayes_all = config.kl_weight and config.bayes_layers == "all"  # embedding and softmax sparsified too
    bayes_init = _bayesian_initialization(config, init, seed)
    sigma = {"sigma_variable": config.bayes_sigma_variable}
    if config.one_hot_input:  # the Bayesian LSTM looks its kernel rows up; a stock one multiplies one-hot vectors
        x = tokens if config.kl_weight else iss_layers.OneHot(vocab_size, name="one_hot")(tokens)
    elif bayes_all:
        x = common.bayes.BayesianEmbedding(vocab_size, config.hidden_size, **bayes_init["embedding"], **sigma,
                                           seed=None if seed is None else seed + 99, name="embedding")(tokens)
    else:
        x = keras.layers.Embedding(vocab_size, config.hidden_size, embeddings_initializer=init, name="embedding")(tokens)
    if rate > 0 and not config.one_hot_input:
        x = keras.layers.Dropout(rate, seed=seed, name="embedding_dropout")(x)
    for i, units in enumerate(config.lstm_sizes):
        if config.gate_hidden:  # H-LSTM, trained by grow-and-prune
            x = common.hlstm.HLSTM(units, config.gate_hidden, stateful=stateful, kernel_initializer=init,
                                   name=f"lstm_{i}")(x)
            continue
        if config.kl_weight:  # structured Bayesian sparsification: weights, neurons (and gates unless bayes_gates=False)
            x = common.bayes.BayesianLSTM(units, stateful=stateful, **bayes_init["lstm"](i), **sigma,
                                          gate_groups=config.bayes_gates,
                                          group_noise=config.bayes_group_noise, hidden_scaling=config.bayes_hidden_scaling,
                                          token_inputs=vocab_size if config.one_hot_input and i == 0 else 0,
                                          seed=None if seed is None else seed + 100 + i, name=f"lstm_{i}")(x)
            continue
        x = iss_layers.LSTM(  # the stock LSTM, with its state carried on JAX too
            units, return_sequences=True, stateful=stateful, unroll=unroll, kernel_initializer=init, recurrent_initializer=init,
            bias_initializer="zeros", unit_forget_bias=False, hoist_inputs=hoist_inputs, name=f"lstm_{i}",
        )(x)
        if rate > 0:
            x = keras.layers.Dropout(rate, seed=None if seed is None else seed + i + 1, name=f"lstm_{i}_dropout")(x)
    if bayes_all:
        logits = common.bayes.BayesianDense(vocab_size, **bayes_init["softmax"], **sigma,
                                            seed=None if seed is None else seed + 98, name="softmax")(x)
    else:
        logits = keras.layers.Dense(vocab_size, kernel_initializer=init, bias_initializer=init, name="softmax")(x)
    return keras.Model(tokens, logits, name=name)


def _bayesian_initialization(config: PTBConfig, init, seed: int | None) -> dict:
    """Initializer arguments of the Bayesian layers by layer ("lstm": a function of the layer index).

    "uniform": the preset's uniform init with log sigma^2 -10 (ours). "lobacheva", from their public
    code: orthogonal weight means (each LSTM gate's block, the softmax), forget-gate bias 1, zero
    softmax bias, log sigma -3 (log sigma^2 -6) on every variable; the embedding, which their one-hot
    model lacks, keeps the uniform init.
    """
    if config.bayes_init == "uniform":
        return {"embedding": {"embeddings_initializer": init}, "lstm": lambda i: {"kernel_initializer": init},
                "softmax": {"kernel_initializer": init, "bias_initializer": init}}
    if config.bayes_init != "lobacheva":
        raise ValueError(f"bayes_init={config.bayes_init!r}: use uniform or lobacheva")
    noise = {"init_log_sigma2": -6.0}

    def lstm(i):  # kernel and recurrent kernel: seeds base and base + 1 (nth_draw)
        gates = common.bayes.GateOrthogonal(seed=None if seed is None else seed + 200 + 2 * i)
        return {"kernel_initializer": gates, "unit_forget_bias": True, **noise}

    softmax = keras.initializers.Orthogonal(seed=None if seed is None else seed + 300)
    return {"embedding": {"embeddings_initializer": init, **noise}, "lstm": lstm,
            "softmax": {"kernel_initializer": softmax, "bias_initializer": "zeros", **noise}}


def window_model(config: PTBConfig, vocab_size: int, batch_size: int, num_steps: int, hoist_inputs: bool = False,
                 name: str | None = None) -> keras.Model:
    """The inference twin of a run's model for one fixed window: stateless, unrolled, dropout off.

    What the inference benchmark times and `ptb.export` converts (TFLite needs the unrolled loop).
    """
    plain = dataclasses.replace(config, keep_prob=1.0)
    name = name or "lm_" + "x".join(map(str, config.lstm_sizes))
    return build_language_model(plain, vocab_size, batch_size, num_steps, seed=0, stateful=False, unroll=True,
                                hoist_inputs=hoist_inputs, name=name)


def deployment_model(run_path: str, batch_size: int, num_steps: int, hoist_inputs: bool = False):
    """(window model with the dense weights of a run, its config, vocab size): a sparse run is extracted first."""
    run = common.experiment.compact_run(TASK, run_path)
    model = window_model(run.config, run.saved["vocab_size"], batch_size, num_steps, hoist_inputs)
    copy_trainable_weights(run.model, model)
    return model, run.config, run.saved["vocab_size"]


def iss_groups(model, config: PTBConfig):
    """ISS groups of the LSTMs, each scaled by its layer's structure_decay_multi (none for Bayesian LSTMs, H-LSTMs)."""
    if config.kl_weight or config.gate_hidden:
        return []
    groups = common.derive_iss_groups(model)
    multis = config.group_lasso_multipliers or (1.0,) * len(groups)
    return [dataclasses.replace(g, multiplier=m) for g, m in zip(groups, multis)]


def sparsity_penalty(model, groups, config: PTBConfig) -> common.SparsityPenalty:
    """ISS group Lasso + L1 (all weights but the embedding) + row/column group Lasso; or the Bayesian KL."""
    if config.kl_weight:
        pairs = [p for layer in _bayesian_layers(model) for p in layer.kl_pairs()]
        return common.SparsityPenalty([common.bayes.LogUniformKL(pairs, config.kl_weight, config.bayes_log_alpha_clip,
                                                                 config.bayes_kl_fit)])
    l1_vars = [v.path for v in model.trainable_weights if not v.path.startswith("embedding/")]
    terms = [common.StructureGroupLasso(groups, config.group_lasso), common.L1(l1_vars, config.weight_decay)]
    for layer, row_multi, col_multi in config.row_col_multipliers:
        if layer == "softmax":
            stack = ("softmax/kernel",)
        else:
            stack = (f"{layer}/lstm_cell/kernel", f"{layer}/lstm_cell/recurrent_kernel")
        terms.append(common.DimensionGroupLasso([stack], config.row_col_lasso * row_multi, rows=True, columns=False))
        terms.append(common.DimensionGroupLasso([stack], config.row_col_lasso * col_multi, rows=False, columns=True))
    return common.SparsityPenalty(terms)


def uses_sparsity(config: PTBConfig) -> bool:
    """A penalty (or freezing) whose zeros the threshold makes exact; SET keeps its own masks."""
    return bool(config.group_lasso or config.weight_decay or config.row_col_lasso or config.freeze_mode)


def masked_variables(model, config: PTBConfig) -> list[str]:
    """SET-LSTM masks the embedding and every LSTM kernel; grow-and-prune the H-LSTMs' two gate layers."""
    if config.gate_hidden:
        return [v.path for v in model.trainable_weights if v.path.endswith(("hidden_kernel", "gate_kernel"))]
    return [v.path for v in model.trainable_weights
            if v.path == "embedding/embeddings" or v.path.endswith("lstm_cell/kernel")
            or v.path.endswith("lstm_cell/recurrent_kernel")]


def build_training_model(config: PTBConfig, vocab_size: int, seed: int | None = None):
    """The stateful training model with the penalty in its loss; (model, groups)."""
    return TASK.training_model(config, vocab_size, seed)


def make_optimizer(config: PTBConfig):
    if config.optimizer == "gd":
        return keras.optimizers.SGD(config.learning_rate, global_clipnorm=config.max_grad_norm)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.learning_rate, epsilon=config.adam_epsilon, global_clipnorm=config.max_grad_norm)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; use gd or adam")


def attach_thresholds(model, config: PTBConfig) -> None:
    """Zero-threshold (and freeze) after every step, when any sparsity method is on; SET's masks.

    SET: a model without zeros in its masked matrices (a fresh or restored dense one) gets new
    Erdos-Renyi masks; one with zeros (a resumed SET run) keeps them as its masks.
    """
    if config.set_epsilon or config.gate_hidden:
        paths = masked_variables(model, config)
        if all(np.count_nonzero(v.numpy()) == v.numpy().size for v in model.trainable_weights if v.path in paths):
            if config.set_epsilon:
                common.evolution.erdos_renyi_masks(model, paths, config.set_epsilon, seed=0)
            else:
                common.evolution.random_masks(model, paths, lambda shape: config.seed_density, seed=0)
        else:
            common.attach_zero_threshold(model, 0.0, paths, freeze_zeros=True)
    if uses_sparsity(config):
        threshold = common.zero_threshold_for(config.zero_threshold, config.weight_decay)
        common.attach_zero_threshold(model, threshold, freeze_zeros=config.freeze_mode == "element")


def compact_config(config: PTBConfig, widths) -> PTBConfig:
    """The dense model extracted from a sparse run: the live widths, no sparsity terms.

    widths: one per group of `extraction_plan`; a Bayesian run's last one is the embedding width (none when one-hot).
    """
    if config.gate_hidden:
        raise common.experiment.RestoreError("extracting a dense model from an H-LSTM (grow-and-prune) run is not "
                                             "implemented: its gate masks are unstructured, so no unit is removed")
    bayes_defaults = {f.name: f.default for f in dataclasses.fields(PTBConfig) if f.name.startswith("bayes_")}
    dense = dataclasses.replace(config, group_lasso=0.0, weight_decay=0.0, row_col_lasso=0.0, kl_weight=0.0,
                                group_lasso_multipliers=(), row_col_multipliers=(), freeze_mode="", **bayes_defaults)
    if config.kl_weight and not config.one_hot_input:
        return dataclasses.replace(dense, hidden_sizes=tuple(widths[:-1]), hidden_size=int(widths[-1]))
    return dataclasses.replace(dense, hidden_sizes=tuple(widths))


def _bayesian_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, common.bayes.SparseVDWeights)]


def _evaluation_values(model, config: PTBConfig):
    """(weights of the evaluation-time model in the stock layout, by path; the stock twin model).

    Each Bayesian layer is written as its stock layer (means with log alpha > 3 at zero, an LSTM's
    group variables folded into its kernels; with hidden_scaling="output" its z_h also into the rows
    of the layer that reads it); the other weights are copied.
    """
    stock = build_language_model(dataclasses.replace(config, kl_weight=0.0, keep_prob=1.0),
                                 model.get_layer("softmax").units, model.inputs[0].shape[0],
                                 model.inputs[0].shape[1], name="stock_twin")
    bayesian = _bayesian_layers(model)
    values = {p: w for p, w in common.stats.model_values(model).items()
              if not any(p.startswith(f"{layer.name}/") for layer in bayesian)}
    for layer in bayesian:
        values.update({f"{layer.name}/{k}": w for k, w in layer.evaluation_weights().items()})
    readers = [f"lstm_{i}/lstm_cell/kernel" for i in range(1, len(config.lstm_sizes))] + ["softmax/kernel"]
    for i, reader in enumerate(readers):
        scale = common.bayes.output_scale(model.get_layer(f"lstm_{i}"))
        if scale is not None:
            values[reader] = scale[:, None] * values[reader]
    return values, stock


def extraction_plan(model, config: PTBConfig):
    """(weight values by path, groups, kept indices) that the compact dense model is sliced from.

    ISS: the model's own weights; a unit stays while any weight of its component is non-zero.
    Bayesian: the evaluation-time model in the stock layout (_evaluation_values; constant gates
    left as their bias); a hidden unit stays while some weight reads its output, and an embedding
    dimension while the first LSTM reads it (its input neuron survives). One-hot words all stay.
    """
    if not config.kl_weight:
        return None  # the ISS default
    return _bayesian_plan(model, config)[:3]


def _bayesian_plan(model, config: PTBConfig, allow_empty: bool = False):
    """allow_empty: a layer that nothing reads any more counts as width 0 (statistics) instead of an error."""
    values, stock = _evaluation_values(model, config)
    if config.one_hot_input:
        groups = common.derive_iss_groups(stock)
        return values, groups, common.extraction.read_components(groups, values, allow_empty), stock
    width = model.get_layer("embedding").output_dim
    inputs = common.ISSGroup("embedding", (
        common.GroupSlice("embedding/embeddings", 0, 0, width, "embedding column"),
        common.GroupSlice("lstm_0/lstm_cell/kernel", 1, 0, width, "first LSTM input row"),
    ))
    groups = common.derive_iss_groups(stock) + [inputs]
    return values, groups, common.extraction.read_components(groups, values, allow_empty), stock


def structure(model, config: PTBConfig) -> dict:
    """What survives of each Bayesian layer at evaluation (weights; LSTMs: neurons, non-constant gates); {} without.

    "model": the non-zero weights of the extracted dense model (what is left to store and multiply:
    a unit that nothing reads goes with its weights) and the weights of the dense model trained.
    """
    bayesian = _bayesian_layers(model)
    if not bayesian:
        return {}
    report = {layer.name: common.bayes.structure_report(layer) for layer in bayesian}
    # A report, written after every epoch: a layer pruned to nothing is counted, not a reason to stop training.
    values, groups, kept, stock = _bayesian_plan(model, config, allow_empty=True)
    compact = common.extraction.compact_weights(values, groups, kept)
    trainable = [v.path for v in stock.trainable_weights]
    report["model"] = {"weights": int(sum(np.count_nonzero(compact[p]) for p in trainable)),
                       "weights_total": int(sum(values[p].size for p in trainable))}
    return report


def epoch_callbacks(model, config: PTBConfig, seed: int, x, y):
    if config.set_epsilon:
        return [common.evolution.SparseEvolution(masked_variables(model, config), config.set_zeta, config.init_scale,
                                                 seed)]
    if config.gate_hidden:  # growth gradients measured on the first 4 training windows
        b = model.inputs[0].shape[0]  # the model's batch (one replica's share under TensorFlow's --distribute)
        batches = [(x[i * b : (i + 1) * b], y[i * b : (i + 1) * b]) for i in range(min(4, len(x) // b))]
        return [common.hlstm.GrowAndPrune(masked_variables(model, config), batches, config.grow_epochs,
                                          config.grow_fraction, config.prune_epochs, config.target_density,
                                          config.learning_rate)]
    return []


TASK = LanguageModelTask(
    name=RUN_KIND.name,
    load_data=RUN_KIND.load_data,
    config_type=RUN_KIND.config_type,
    build_model=lambda config, vocab, batch, steps, seed: build_language_model(config, vocab, batch, steps, seed=seed),
    inference_config=lambda config: dataclasses.replace(config, keep_prob=1.0),
    iss_groups=iss_groups,
    penalty=sparsity_penalty,
    make_optimizer=make_optimizer,
    attach_thresholds=attach_thresholds,
    architecture=lambda config: f"LSTM sizes {config.lstm_sizes}, "
                                + ("one-hot input" if config.one_hot_input else f"embedding {config.hidden_size}")
                                + (f", Bayesian with {config.bayes_sigma_variable} variables" if config.kl_weight else ""),
    compact_config=compact_config,
    extraction_plan=extraction_plan,
    epoch_callbacks=epoch_callbacks,
    structure=structure,
)
