"""The variational RHN language model of Zilly et al. with tied embeddings, and its ISS setup.

tokens -> tied embedding (word dropout) -> input dropout -> RHN (state dropout) -> output dropout
-> logits through the transposed embedding + bias. All weights start uniform(-init_scale,
init_scale), the transform-gate biases at init_bias. The RHN is stateful: its state is carried
from window to window within an epoch and reset at each epoch, as in the reference.
"""

from __future__ import annotations

import dataclasses

import keras

import common
from common.experiment import LanguageModelTask
from common.lm import uniform_initializer
from rhns.config import RUN_KIND, RHNConfig


def _seed(seed, offset):
    return None if seed is None else seed + offset


def build_language_model(config: RHNConfig, vocab_size: int, batch_size: int, num_steps: int,
                         seed: int | None = None, name: str = "rhn_lm", stateful: bool = True) -> keras.Model:
    init = uniform_initializer(config.init_scale, seed)  # each weight (and each depth level) its own draw
    width = config.hidden_size
    tokens = keras.Input(batch_shape=(batch_size, num_steps), dtype="int32", name="tokens")
    embedding = common.TiedEmbedding(vocab_size, width, word_dropout=config.drop_x, embeddings_initializer=init,
                                     seed=_seed(seed, 1), name="embedding")
    x = embedding(tokens)
    if config.drop_i:
        x = keras.layers.Dropout(config.drop_i, noise_shape=(None, 1, width), seed=_seed(seed, 2), name="input_dropout")(x)
    s = common.RecurrentHighway(width, config.depth, state_dropout=config.drop_h, transform_bias=config.init_bias,
                                kernel_initializer=init, stateful=stateful, seed=_seed(seed, 3), name="rhn")(x)
    if config.drop_o:
        s = keras.layers.Dropout(config.drop_o, noise_shape=(None, 1, width), seed=_seed(seed, 4), name="output_dropout")(s)
    logits = embedding(s, reverse=True)
    return keras.Model(tokens, logits, name=name)


def iss_groups(model, config: RHNConfig | None = None):
    """One group: the RHN's units, each with its tied embedding column (ISS_REFERENCE.md Sec. 4)."""
    return [common.highway_iss_group(model.get_layer("rhn"), tied_embedding=model.get_layer("embedding"), name="rhn")]


def sparsity_penalty(model, groups, config: RHNConfig) -> common.SparsityPenalty:
    """ISS group Lasso (structure_wd) + the reference's L2 weight decay on every trainable weight."""
    every = [v.path for v in model.trainable_weights]
    return common.SparsityPenalty([common.StructureGroupLasso(groups, config.structure_wd),
                                   common.L2(every, config.weight_decay)])


def make_optimizer(config: RHNConfig):
    return keras.optimizers.SGD(config.learning_rate, global_clipnorm=config.max_grad_norm)


def attach_thresholds(model, config: RHNConfig) -> None:
    """Zero |w| < zero_threshold after every step (and freeze), when ISS or freezing is on."""
    if config.structure_wd or config.freeze_mode:
        common.attach_zero_threshold(model, config.zero_threshold, freeze_zeros=config.freeze_mode == "element")


def compact_config(config: RHNConfig, widths) -> RHNConfig:
    """The dense RHN extracted from a sparse run: the live width, no ISS term."""
    (width,) = widths
    return dataclasses.replace(config, hidden_size=int(width), structure_wd=0.0, freeze_mode="")


TASK = LanguageModelTask(
    name=RUN_KIND.name,
    load_data=RUN_KIND.load_data,
    config_type=RUN_KIND.config_type,
    build_model=lambda config, vocab, batch, steps, seed: build_language_model(config, vocab, batch, steps, seed=seed),
    inference_config=lambda config: dataclasses.replace(config, drop_x=0.0, drop_i=0.0, drop_h=0.0, drop_o=0.0),
    iss_groups=iss_groups,
    penalty=sparsity_penalty,
    make_optimizer=make_optimizer,
    attach_thresholds=attach_thresholds,
    architecture=lambda config: f"RHN width {config.hidden_size}, depth {config.depth}",
    compact_config=compact_config,
)
