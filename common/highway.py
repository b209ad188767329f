"""Recurrent Highway Network layer (Zilly et al. 2017) and the tied embedding it is used with.

One RHN time step runs `depth` highway micro-steps on the state s (coupled carry gate C = 1 - T):

    depth 0:   h = tanh(x W_H + (s*m) R_H^0 + b_H^0),   t = sigmoid(x W_T + (s*m) R_T^0 + b_T^0)
    depth l:   h = tanh((s*m) R_H^l + b_H^l),           t = sigmoid((s*m) R_T^l + b_T^l)
    each:      s <- h * t + s * (1 - t)

The output at each time step is s after the last micro-step. m is the variational dropout mask
of the state: one mask per sequence, the same at every time step and every depth; the carry
term uses the undropped s (Zilly et al.'s released code).

Weights are laid out so ISS groups and extraction work from variable paths alone: depth l has a
sublayer `depth_l` with `recurrent_kernel` [W, 2W] (H columns, then T columns) and `bias` [2W];
depth 0 also has `kernel` [D, 2W], the input side. The transform-gate half of every bias starts
at `transform_bias` (-2: carry the state at first, which eases learning of long dependencies).
"""

from __future__ import annotations

import keras
from keras import ops

from common.layers import ScannedRNN, nth_draw


class _HighwayDepth(keras.layers.Layer):
    """The weights of one micro-step; a sublayer so its variables are `<rhn>/depth_l/...`."""

    def __init__(self, units, input_dim, kernel_initializer, transform_bias, level=0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.input_dim = units, input_dim
        self.kernel_initializer = kernel_initializer
        self.transform_bias = transform_bias
        self.level = level

    def build(self, input_shape=None):
        w = self.units
        if self.input_dim:
            self.kernel = self.add_weight(shape=(self.input_dim, 2 * w), initializer=self.kernel_initializer,
                                          name="kernel")  # each level's recurrent kernel its own draw:
        self.recurrent_kernel = self.add_weight(shape=(w, 2 * w), initializer=nth_draw(self.kernel_initializer,
                                                                                       1 + self.level), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(2 * w,), initializer=self._bias_initializer, name="bias")

    def _bias_initializer(self, shape, dtype=None):
        """H half 0, T half transform_bias."""
        half = shape[0] // 2
        return ops.concatenate([ops.zeros((half,), dtype=dtype), ops.full((half,), self.transform_bias, dtype=dtype)])


@keras.saving.register_keras_serializable(package="iss_rnns")
class RecurrentHighway(ScannedRNN):
    """RHN layer over [batch, time, features] -> [batch, time, units] (all time steps).

    stateful=True carries the state from one batch to the next (`states[0]`; see ScannedRNN).
    """

    def __init__(self, units: int, depth: int, state_dropout: float = 0.0, transform_bias: float = -2.0,
                 kernel_initializer="glorot_uniform", stateful: bool = False, seed: int | None = None, **kwargs):
        if units < 1 or depth < 1:
            raise ValueError(f"RecurrentHighway needs units >= 1 and depth >= 1, got units={units}, depth={depth}")
        super().__init__(units, stateful=stateful, **kwargs)
        if not 0.0 <= state_dropout < 1.0:
            raise ValueError(f"state_dropout must be in [0, 1), got {state_dropout}")
        self.depth = int(depth)
        self.state_dropout = float(state_dropout)
        self.transform_bias = float(transform_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        input_dim = int(input_shape[-1])
        self.depths = []
        for level in range(self.depth):
            sub = _HighwayDepth(self.units, input_dim if level == 0 else 0, self.kernel_initializer,
                                self.transform_bias, level=level, name=f"depth_{level}")
            sub.build()
            self.depths.append(sub)
        self._build_states(input_shape)

    def call(self, inputs, training=False):
        w = self.units
        batch = ops.shape(inputs)[0]
        first = self.depths[0]
        # The input side of every time step at once: one big matmul instead of one per step.
        projected = ops.einsum("btd,de->bte", inputs, first.kernel)
        mask = None
        if training and self.state_dropout > 0:
            mask = keras.random.dropout(ops.ones((batch, w), dtype=inputs.dtype), self.state_dropout,
                                        seed=self.seed_generator)
        kernels = [(d.recurrent_kernel, d.bias) for d in self.depths]

        def step(states, x_t):
            (s,) = states
            for level, (recurrent, bias) in enumerate(kernels):
                pre = ops.matmul(s if mask is None else s * mask, recurrent) + bias
                if level == 0:
                    pre = pre + x_t
                h, t = ops.tanh(pre[:, :w]), ops.sigmoid(pre[:, w:])
                s = s + t * (h - s)
            return [s]

        return self._scan(step, ops.transpose(projected, (1, 0, 2)), batch, inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(depth=self.depth, state_dropout=self.state_dropout, transform_bias=self.transform_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer), seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="iss_rnns")
class TiedEmbedding(keras.layers.Layer):
    """One [vocab, width] matrix E used twice: token lookup, and logits = x E^T + b (reverse=True).

    word_dropout drops whole words (Zilly et al.'s embedding dropout): in training, every
    (sequence, word type) pair is kept or dropped together, so a word dropped once in a sequence
    is dropped at each of its occurrences there.
    """

    def __init__(self, vocab_size: int, width: int, word_dropout: float = 0.0,
                 embeddings_initializer="uniform", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {word_dropout}")
        self.vocab_size, self.width = int(vocab_size), int(width)
        self.word_dropout = float(word_dropout)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.vocab_size, self.width),
                                          initializer=self.embeddings_initializer, name="embeddings")
        self.output_bias = self.add_weight(shape=(self.vocab_size,), initializer=self.embeddings_initializer,
                                           name="output_bias")

    def call(self, inputs, reverse=False, training=False):
        if reverse:
            return ops.matmul(inputs, ops.transpose(self.embeddings)) + self.output_bias
        tokens = ops.cast(inputs, "int32")
        x = ops.take(self.embeddings, tokens, axis=0)
        if training and self.word_dropout > 0:
            keep = keras.random.dropout(ops.ones((ops.shape(tokens)[0], self.vocab_size), dtype=x.dtype),
                                        self.word_dropout, seed=self.seed_generator)
            x = x * ops.expand_dims(ops.take_along_axis(keep, tokens, axis=1), -1)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, width=self.width, word_dropout=self.word_dropout,
                      embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer),
                      seed=self.seed)
        return config
