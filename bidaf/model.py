"""The BiDAF reader (Seo et al. 2017) in Keras 3, and its ISS groups.

Each of the context and the question: word embedding (GloVe, fixed) + char CNN (max over the
word's characters) -> highway layers -> contextual bi-LSTM (shared) = H [Lc, d], U [Lq, d].
Attention flow: S_tj = w_h.H_t + w_u.U_j + w_hu.(H_t * U_j); context-to-query U~ = softmax_j(S) U;
query-to-context h~ = softmax_t(max_j S) H, tiled; G = [H; U~; H*U~; H*h~]. Modeling: two bi-LSTMs
over G = M. Start logits: w_1.[G; M]; end logits: w_2.[G; M2] with M2 = an output bi-LSTM over M.
Padding is masked everywhere (LSTMs, softmaxes, logits).

Every LSTM direction has an ISS group: its gate columns and recurrent rows, and every row that
reads its output: the attention weights and all four blocks of G for the contextual layer, the
next bi-LSTM's two kernels, the pointer weights (`iss_groups`). Each layer's two directions may
have different widths (compact models), so the concatenated features are [forward | backward].
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops

import common
from bidaf.config import LSTM_LAYERS, BiDAFConfig
from common.extraction import UnevenBidirectional

NEG = -1e30


@keras.saving.register_keras_serializable(package="iss_rnns")
class AttentionFlow(keras.layers.Layer):
    """G = [H; U~; H*U~; H*h~] from H [B, Lc, d], U [B, Lq, d] and their masks; output [B, Lc, 4d]."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # G has the context's positions: Keras passes H's mask on

    def build(self, h_shape, u_shape=None, h_mask_shape=None, u_mask_shape=None):
        d = int(h_shape[-1])
        # [d, 1] matrices (not vectors) so that their rows can be in ISS groups
        self.w_context = self.add_weight(shape=(d, 1), initializer="glorot_uniform", name="w_context")
        self.w_question = self.add_weight(shape=(d, 1), initializer="glorot_uniform", name="w_question")
        self.w_product = self.add_weight(shape=(d, 1), initializer="glorot_uniform", name="w_product")

    def call(self, h, u, h_mask, u_mask, mask=None):  # `mask`: Keras' propagated masks; h_mask, u_mask are used
        s = (ops.matmul(h, self.w_context)  # [B, Lc, 1]
             + ops.transpose(ops.matmul(u, self.w_question), (0, 2, 1))  # [B, 1, Lq]
             + ops.einsum("btd,bjd->btj", h * ops.transpose(self.w_product, (1, 0)), u))
        s = ops.where(ops.expand_dims(u_mask, 1), s, NEG)
        c2q = ops.matmul(ops.softmax(s, axis=-1), u)  # [B, Lc, d]
        best = ops.where(h_mask, ops.max(s, axis=-1), NEG)  # [B, Lc]
        q2c = ops.einsum("bt,btd->bd", ops.softmax(best, axis=-1), h)  # [B, d]
        return ops.concatenate([h, c2q, h * c2q, h * ops.expand_dims(q2c, 1)], axis=-1)

    def compute_output_shape(self, h_shape, u_shape=None, h_mask_shape=None, u_mask_shape=None):
        return tuple(h_shape[:-1]) + (4 * h_shape[-1],)


def _bilstm(name, forward, backward):
    """A bi-LSTM whose directions may differ in width; sequences of [forward | backward] features."""
    fwd = common.layers.LSTM(forward, return_sequences=True, name="lstm")
    bwd = common.layers.LSTM(backward, return_sequences=True, go_backwards=True, name="backward_lstm")
    return UnevenBidirectional(fwd, backward_layer=bwd, name=name)


@keras.saving.register_keras_serializable(package="iss_rnns")
class Pointer(keras.layers.Layer):
    """Start or end logits [B, Lc] = x w + b over the context tokens, padding at -1e30."""

    def build(self, x_shape, token_mask_shape=None):
        self.kernel = self.add_weight(shape=(int(x_shape[-1]), 1), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")

    def call(self, x, token_mask):
        return ops.where(token_mask, ops.squeeze(ops.matmul(x, self.kernel), -1) + self.bias, NEG)

    def compute_output_shape(self, x_shape, token_mask_shape=None):
        return tuple(x_shape[:-1])


def build_model(config: BiDAFConfig, embeddings: np.ndarray, num_chars: int, max_word_len: int,
                name: str = "bidaf") -> keras.Model:
    """Inputs: context/question word ids [B, L] and char ids [B, L, W]; outputs: start, end logits [B, Lc]."""
    sizes = config.directions
    drop = config.dropout
    inputs = {
        "context_words": keras.Input((None,), dtype="int32", name="context_words"),
        "context_chars": keras.Input((None, max_word_len), dtype="int32", name="context_chars"),
        "question_words": keras.Input((None,), dtype="int32", name="question_words"),
        "question_chars": keras.Input((None, max_word_len), dtype="int32", name="question_chars"),
    }
    word_embedding = keras.layers.Embedding(
        embeddings.shape[0], embeddings.shape[1], embeddings_initializer=keras.initializers.Constant(embeddings),
        trainable=False, name="word_embedding")
    char_embedding = keras.layers.Embedding(num_chars, config.char_embedding, name="char_embedding")
    char_cnn = keras.layers.Conv2D(config.char_filters, (1, config.char_width), activation="relu", padding="same",
                                   name="char_cnn")
    width = config.char_filters + embeddings.shape[1]
    highways = [(keras.layers.Dense(width, activation="relu", name=f"highway_{i}_transform"),
                 keras.layers.Dense(width, activation="sigmoid", name=f"highway_{i}_gate"))
                for i in range(config.highway_layers)]
    context_lstm = _bilstm("context_lstm", *sizes["context_lstm"])

    def encode(words, chars):
        c = char_cnn(keras.layers.Dropout(drop)(char_embedding(chars)) if drop else char_embedding(chars))
        x = ops.concatenate([word_embedding(words), ops.max(c, axis=2)], axis=-1)
        for transform, gate in highways:
            g = gate(x)
            x = g * transform(x) + (1.0 - g) * x
        mask = ops.not_equal(words, 0)
        if drop:
            x = keras.layers.Dropout(drop)(x)
        return context_lstm(x, mask=mask), mask

    h, c_mask = encode(inputs["context_words"], inputs["context_chars"])
    u, q_mask = encode(inputs["question_words"], inputs["question_chars"])
    g = AttentionFlow(name="attention")(h, u, c_mask, q_mask)
    m = g
    for layer in ("modeling_lstm_0", "modeling_lstm_1"):
        m = _bilstm(layer, *sizes[layer])(keras.layers.Dropout(drop)(m) if drop else m, mask=c_mask)
    m2 = _bilstm("output_lstm", *sizes["output_lstm"])(keras.layers.Dropout(drop)(m) if drop else m,
                                                                    mask=c_mask)
    start_in, end_in = ops.concatenate([g, m], axis=-1), ops.concatenate([g, m2], axis=-1)
    if drop:
        start_in, end_in = keras.layers.Dropout(drop)(start_in), keras.layers.Dropout(drop)(end_in)
    start = Pointer(name="start")(start_in, c_mask)
    end = Pointer(name="end")(end_in, c_mask)
    return keras.Model(inputs, {"start": start, "end": end}, name=name)


def iss_groups(model, config: BiDAFConfig):
    """One ISS group per LSTM direction, with every row that reads that direction's output."""
    sizes = config.directions
    d_ctx = sum(sizes["context_lstm"])

    def kernels(layer):
        bi = model.get_layer(layer)
        return [bi.forward_layer.cell.kernel, bi.backward_layer.cell.kernel]

    att = model.get_layer("attention")
    start, end = model.get_layer("start").kernel, model.get_layer("end").kernel
    consumers = {  # layer -> [(kernel, row offset of this layer's output)]
        "context_lstm": [(k, 0) for k in (att.w_context, att.w_question, att.w_product)]
        + [(k, block * d_ctx) for block in range(4) for k in kernels("modeling_lstm_0") + [start, end]],
        "modeling_lstm_0": [(k, 0) for k in kernels("modeling_lstm_1")],
        "modeling_lstm_1": [(k, 0) for k in kernels("output_lstm")] + [(start, 4 * d_ctx)],
        "output_lstm": [(end, 4 * d_ctx)],
    }
    groups = []
    for layer in LSTM_LAYERS:
        bi = model.get_layer(layer)
        forward_units = sizes[layer][0]
        for direction, lstm, shift in (("forward", bi.forward_layer, 0), ("backward", bi.backward_layer, forward_units)):
            rows = [(k, offset + shift) for k, offset in consumers[layer]]
            groups.append(common.lstm_iss_group(lstm, rows, name=f"{layer}/{direction}", layer=layer,
                                                direction=direction))
    return groups


def compact_config(config: BiDAFConfig, widths) -> BiDAFConfig:
    """The dense model extracted from a sparse run: live widths per direction, no ISS term."""
    pairs = tuple(tuple(int(w) for w in widths[i : i + 2]) for i in range(0, len(widths), 2))
    return dataclasses.replace(config, lstm_sizes=pairs, group_lasso=0.0, freeze_mode="")


def sparsity_penalty(model, groups, config: BiDAFConfig) -> common.SparsityPenalty:
    return common.SparsityPenalty([common.StructureGroupLasso(groups, config.group_lasso)])
