"""Structured Bayesian sparsification of LSTMs (Lobacheva, Chirkova, Vetrov 2018/2019).

Sparse variational dropout (Molchanov et al. 2017): every weight w has a Gaussian posterior
N(mu, sigma^2) under a log-uniform prior; the KL term pushes log alpha = log(sigma^2 / mu^2)
up, and a weight with log alpha > 3 is pure noise and is set to zero at evaluation. Lobacheva
et al. add multiplicative *group* variables with the same posterior and prior:

    preactivation = (((x * z_x) W_x + (h * z_h) W_h) * z_gate) + b

z_x [D] on the input neurons, z_h [H] on the hidden neurons, z_gate [4H] on each gate
preactivation of each unit. A zero z_h[j] removes hidden unit j from the recurrence; a zero
z_gate entry makes that gate of that unit a constant, sigmoid(b) (or tanh(b)). Weights are
sampled once per batch (the same for every time step, as the recurrence shares them). The group
variables are too by default (group_noise="batch"); group_noise="sequence" draws them for each
sequence of the batch instead, still the same for every time step, as Lobacheva et al.'s public
code does (their weights are drawn once per batch, like ours). Their code also applies z_h to the
LSTM's output h_t, which the next layer reads too, where the equation above applies it only where
the recurrence reads h: hidden_scaling="output" does the same (a removed hidden neuron then leaves
the model; its evaluation-time value folds into the rows of whatever reads the output, see
output_scale), hidden_scaling="recurrence" (the default) follows the equation.
`gate_groups=False` leaves z_gate out: their "weights + neurons" variant (W+N), whose PTB
row is their best; a gate can then still become constant when every weight into it goes.
`token_inputs=V` makes the layer read token ids as one-hot words, as their language model does
(no embedding): the input kernel is [V, 4H], the product x W_x is a lookup of its rows (training
draws only the rows the batch reads, one draw per distinct word), and there are no input-neuron
variables (theirs have none on the words).

BayesianEmbedding and BayesianDense carry the same weight posterior (no group variables) for the
"every layer" variant, where the embedding and the softmax are sparsified too, as in their
language-model runs whose compression counts every weight.

Negative KL of the log-uniform prior, up to a constant (Molchanov et al., Eq. 14):
    -KL ~= k1 sigmoid(k2 + k3 log alpha) - 0.5 log(1 + 1/alpha) - k1,  k1, k2, k3 = 0.63576, 1.87320, 1.48695
Lobacheva et al.'s code uses a rounded refit, 0.64 sigmoid(1.5 (log alpha + 1.3)): k1, k2, k3 = 0.64, 1.95, 1.5
(KL_FITS; the same curve to a constant and a slope within 1.5%).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from common.layers import ScannedRNN, lstm_update, nth_draw

K1, K2, K3 = 0.63576, 1.87320, 1.48695
KL_FITS = {"molchanov": (K1, K2, K3), "lobacheva": (0.64, 1.95, 1.5)}  # (k1, k2, k3) of the KL's fitted curve
LOG_ALPHA_THRESHOLD = 3.0
GROUP_VARIABLES = ("input_neurons", "hidden_neurons", "gate_preactivations")
GROUP_NOISE = ("batch", "sequence")
HIDDEN_SCALING = ("recurrence", "output")
GATES = ("input_gate", "forget_gate", "cell_update", "output_gate")  # Keras order i, f, c, o
SIGMA_VARIABLES = ("log_sigma2", "log_sigma")  # what a weight's noise variable holds (its name's suffix)
LOG_ALPHA_CLIP = 10.0  # the KL reads log alpha clipped to [-10, 10]; Molchanov et al.'s and Lobacheva et al.'s code: 8


def log_alpha(mu, log_sigma2):
    return log_sigma2 - ops.log(ops.square(mu) + 1e-8)


def posterior_value(mu, log_sigma2, noise=None):
    """A weight's draw mu + sigma * noise (training), or with noise None its mean, zero where log alpha > 3 (evaluation)."""
    if noise is None:
        return ops.where(log_alpha(mu, log_sigma2) < LOG_ALPHA_THRESHOLD, mu, ops.zeros_like(mu))
    return mu + ops.exp(0.5 * log_sigma2) * noise


def log_sigma2_factor(path: str) -> float:
    """log sigma^2 = factor * the variable at `path`: 2 for a `*_log_sigma` variable, 1 for `*_log_sigma2`."""
    return 2.0 if path.endswith("_log_sigma") else 1.0


def as_log_sigma2(value, path: str):
    """The value of the noise variable at `path` as log sigma^2 (a log sigma^2 variable's value as it is)."""
    factor = log_sigma2_factor(path)
    return value if factor == 1.0 else factor * value


def kl_log_uniform(mu, log_sigma2, log_alpha_clip: float = LOG_ALPHA_CLIP, fit: str = "molchanov"):
    """Sum over the elements of KL(N(mu, sigma^2) || log-uniform), the approximation above (>= 0).

    log alpha is clipped to [-log_alpha_clip, log_alpha_clip], so no element outside that range
    feels the KL: with 8 (Lobacheva et al.'s code) a weight below log alpha -8 is free of its
    constant pull (about 0.5 per unit of log alpha) that 10 keeps on it down to -10. `fit` names
    the fitted curve's constants (KL_FITS).
    """
    k1, k2, k3 = KL_FITS[fit]
    la = ops.clip(log_alpha(mu, log_sigma2), -log_alpha_clip, log_alpha_clip)
    neg_kl = k1 * ops.sigmoid(k2 + k3 * la) - 0.5 * ops.log1p(ops.exp(-la)) - k1
    return -ops.sum(neg_kl)


class LogUniformKL:
    """strength * sum of KL over (mu path, log sigma^2 path) pairs: a SparsityPenalty term.

    For the ELBO per training sequence, strength = 1 / (training sequences per epoch). A pair's
    second variable holds log sigma^2, or log sigma when its name ends in `_log_sigma`.
    """

    def __init__(self, pairs, strength: float, log_alpha_clip: float = LOG_ALPHA_CLIP, fit: str = "molchanov"):
        if not log_alpha_clip > 0:
            raise ValueError(f"log_alpha_clip={log_alpha_clip}: must be > 0 (the KL clips log alpha to [-it, it])")
        if fit not in KL_FITS:
            raise ValueError(f"fit={fit!r}: the KL's fitted curve is one of {sorted(KL_FITS)}")
        self.pairs = [tuple(p) for p in pairs]
        self.strength = float(strength)
        self.log_alpha_clip = float(log_alpha_clip)
        self.fit = fit

    @property
    def variables(self):
        return tuple(p for pair in self.pairs for p in pair)

    def check_shapes(self, shapes):
        for mu, ls2 in self.pairs:
            if tuple(shapes[mu]) != tuple(shapes[ls2]):
                raise ValueError(f"{mu} {tuple(shapes[mu])} and {ls2} {tuple(shapes[ls2])} must have the same shape")

    def __call__(self, values):
        return self.strength * sum(kl_log_uniform(values[mu], as_log_sigma2(values[ls], ls), self.log_alpha_clip, self.fit)
                                   for mu, ls in self.pairs)


class SparseVDWeights:
    """Mixin for a layer whose STOCHASTIC weights each have a mean `name` and a `name_log_sigma2`.

    Training samples a weight once per call; evaluation uses the mean with every entry of
    log alpha > 3 at zero. sigma_variable="log_sigma" keeps `name_log_sigma` instead, as
    Lobacheva et al.'s code does: the same model, but an optimizer then steps in log sigma,
    and Adam, whose step barely depends on the gradient's scale, moves log sigma^2 twice as fast.
    """

    STOCHASTIC: tuple = ()

    @property
    def stochastic(self) -> tuple:
        """The STOCHASTIC names this layer has (a layer may leave optional ones out)."""
        return self.STOCHASTIC

    def _init_sparse_vd(self, init_log_sigma2: float, seed: int | None, sigma_variable: str = "log_sigma2") -> None:
        if sigma_variable not in SIGMA_VARIABLES:
            raise ValueError(f"sigma_variable={sigma_variable!r}: use one of {SIGMA_VARIABLES}")
        self.init_log_sigma2 = float(init_log_sigma2)
        self.sigma_variable = sigma_variable
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def add_stochastic_weight(self, name: str, shape, initializer) -> None:
        setattr(self, name, self.add_weight(shape=shape, initializer=initializer, name=name))
        noise = f"{name}_{self.sigma_variable}"
        init = self.init_log_sigma2 / log_sigma2_factor(noise)
        setattr(self, noise, self.add_weight(shape=shape, initializer=keras.initializers.Constant(init), name=noise))

    def noise_variable(self, name: str):
        """The variable that holds log sigma^2 (or log sigma) of the stochastic weight `name`."""
        return getattr(self, f"{name}_{self.sigma_variable}")

    def log_sigma2(self, name: str, rows=None):
        """log sigma^2 of the stochastic weight `name` as a tensor (rows: only those rows of its leading axis)."""
        variable = self.noise_variable(name)
        value = ops.convert_to_tensor(variable) if rows is None else ops.take(variable, rows, axis=0)
        return as_log_sigma2(value, variable.path)

    def kl_pairs(self):
        """(mu path, noise variable path) of every stochastic variable, for LogUniformKL."""
        return [(getattr(self, n).path, self.noise_variable(n).path) for n in self.stochastic]

    def _value(self, name, training, rows: int | None = None):
        """A sample in training (rows: one per row of a leading axis, e.g. per sequence); else the thresholded mean."""
        mu, ls2 = ops.convert_to_tensor(getattr(self, name)), self.log_sigma2(name)
        if not training:
            return posterior_value(mu, ls2)
        shape = ops.shape(mu) if rows is None else (rows, *ops.shape(mu))
        return posterior_value(mu, ls2, keras.random.normal(shape, seed=self.seed_generator, dtype=mu.dtype))

    def _sparse_vd_config(self, config: dict) -> dict:
        config.update(init_log_sigma2=self.init_log_sigma2, seed=self.seed, sigma_variable=self.sigma_variable)
        return config


@keras.saving.register_keras_serializable(package="iss_rnns")
class GateOrthogonal(keras.initializers.Initializer):
    """An LSTM kernel [D, 4H] as four orthogonal [D, H] blocks, one per gate (Lobacheva et al.'s initialization).

    Their code keeps one matrix per gate, each initialized orthogonal; one orthogonal [D, 4H] matrix
    would instead make each row a unit vector across all four gates (half the scale per gate).
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        self.gain = float(gain)
        self.seed = int(np.random.default_rng().integers(2**30)) if seed is None else int(seed)

    def __call__(self, shape, dtype=None):
        d, four_h = (int(n) for n in shape)
        if four_h % 4:
            raise ValueError(f"GateOrthogonal needs a [D, 4H] kernel, got shape {tuple(shape)}")
        return ops.concatenate([keras.initializers.Orthogonal(self.gain, seed=4 * self.seed + k)((d, four_h // 4), dtype=dtype)
                                for k in range(4)], axis=-1)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


@keras.saving.register_keras_serializable(package="iss_rnns")
class BayesianLSTM(SparseVDWeights, ScannedRNN):
    """LSTM layer [B, T, D] -> [B, T, H] with sparse variational dropout on weights, neurons and gates.

    Training samples the weights (once per call); inference uses the means with every variable of
    log alpha > 3 at zero. stateful=True carries (h, c) across calls in tracked variables.
    gate_groups=False: no gate group variables (weights + neurons only). group_noise="sequence": the group
    variables are drawn per sequence in training (see the module docstring); evaluation is the same.
    hidden_scaling="output": z_h multiplies the layer's output as well as the recurrence's input.
    unit_forget_bias=True starts the forget-gate biases at 1 (the others at 0).
    token_inputs=V: the input is token ids [B, T] read as one-hot words over a vocabulary of V (see the module docstring).
    sigma_variable="log_sigma": the noise variables hold log sigma, not log sigma^2 (see SparseVDWeights).
    """

    STOCHASTIC = ("kernel", "recurrent_kernel", "input_neurons", "hidden_neurons", "gate_preactivations")
    state_count = 2  # h, c

    def __init__(self, units: int, stateful: bool = False, kernel_initializer="glorot_uniform",
                 init_log_sigma2: float = -10.0, seed: int | None = None, gate_groups: bool = True,
                 group_noise: str = "batch", hidden_scaling: str = "recurrence", unit_forget_bias: bool = False,
                 token_inputs: int = 0, sigma_variable: str = "log_sigma2", **kwargs):
        super().__init__(units, stateful=stateful, **kwargs)
        if group_noise not in GROUP_NOISE:
            raise ValueError(f"group_noise={group_noise!r}: use one of {GROUP_NOISE}")
        if hidden_scaling not in HIDDEN_SCALING:
            raise ValueError(f"hidden_scaling={hidden_scaling!r}: use one of {HIDDEN_SCALING}")
        self.hidden_scaling = hidden_scaling
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.gate_groups = bool(gate_groups)
        self.group_noise = group_noise
        self.token_inputs = int(token_inputs)
        self._init_sparse_vd(init_log_sigma2, seed, sigma_variable)

    @property
    def stochastic(self) -> tuple:
        left_out = {"gate_preactivations"} if not self.gate_groups else set()
        if self.token_inputs:
            left_out.add("input_neurons")
        return tuple(n for n in self.STOCHASTIC if n not in left_out)

    def build(self, input_shape):
        d, h = self.token_inputs or int(input_shape[-1]), self.units
        shapes = {"kernel": (d, 4 * h), "recurrent_kernel": (h, 4 * h), "input_neurons": (d,),
                  "hidden_neurons": (h,), "gate_preactivations": (4 * h,)}
        for name in self.stochastic:
            shape = shapes[name]
            init = nth_draw(self.kernel_initializer, int(name == "recurrent_kernel")) if "kernel" in name else "ones"
            self.add_stochastic_weight(name, shape, init)
        self.bias = self.add_weight(shape=(4 * h,), initializer=self._bias_initializer, name="bias")
        self._build_states(input_shape)

    def _bias_initializer(self, shape, dtype=None):
        h = self.units
        forget = 1.0 if self.unit_forget_bias else 0.0
        return ops.concatenate([ops.zeros((h,), dtype), ops.full((h,), forget, dtype), ops.zeros((2 * h,), dtype)])

    def evaluation_weights(self) -> dict[str, np.ndarray]:
        """The stock LSTM's weights by path under this layer (see stock_lstm_weights)."""
        return {f"lstm_cell/{k}": w for k, w in stock_lstm_weights(self).items()}

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.units) if self.token_inputs else super().compute_output_shape(input_shape)

    def call(self, inputs, training=False):
        batch = ops.shape(inputs)[0]
        per_sequence = training and self.group_noise == "sequence"
        w = {n: self._value(n, training, rows=batch if per_sequence and n in GROUP_VARIABLES else None)
             for n in self.stochastic if not (self.token_inputs and n == "kernel")}  # group variables: [D] or [B, D]
        if self.token_inputs:  # one-hot words: x W_x is the row of each token (of this batch's draw of W_x)
            x_part = self._kernel_rows(ops.cast(inputs, "int32"), training)
        else:
            d = ops.shape(inputs)[-1]
            x_part = ops.einsum("btd,de->bte", inputs * ops.reshape(w["input_neurons"], (-1, 1, d)), w["kernel"])
        gates = w.get("gate_preactivations")

        def step(states, x_t):
            h, c = states
            pre = x_t + ops.matmul(h * w["hidden_neurons"], w["recurrent_kernel"])
            if gates is not None:
                pre = pre * gates
            return list(lstm_update(pre + self.bias, c))

        outputs = self._scan(step, ops.transpose(x_part, (1, 0, 2)), batch, x_part.dtype)
        if self.hidden_scaling == "output":
            outputs = outputs * ops.reshape(w["hidden_neurons"], (-1, 1, self.units))
        return outputs

    def _kernel_rows(self, tokens, training):
        """The kernel rows of tokens [B, T] -> [B, T, 4H], from one draw of the kernel per call in training.

        Only the rows the batch reads are drawn (at most B x T of the V): each distinct token gets one
        noise row, shared by all its occurrences, which is the same as drawing the whole [V, 4H] kernel
        and looking rows up (the rows not read do not reach the loss), without the V x 4H normal draws.
        """
        mu = ops.take(self.kernel, tokens, axis=0)
        log_sigma2 = self.log_sigma2("kernel", rows=tokens)
        if not training:
            return posterior_value(mu, log_sigma2)
        flat = ops.reshape(tokens, (-1,))
        slot = ops.searchsorted(ops.sort(flat), flat, side="left")  # equal tokens, equal slot; different, different
        noise = keras.random.normal((ops.shape(flat)[0], 4 * self.units), seed=self.seed_generator, dtype=mu.dtype)
        return posterior_value(mu, log_sigma2, ops.reshape(ops.take(noise, slot, axis=0), ops.shape(mu)))

    def get_config(self):
        config = self._sparse_vd_config(super().get_config())
        config.update(kernel_initializer=keras.initializers.serialize(self.kernel_initializer), gate_groups=self.gate_groups,
                      group_noise=self.group_noise, hidden_scaling=self.hidden_scaling, unit_forget_bias=self.unit_forget_bias,
                      token_inputs=self.token_inputs)
        return config


@keras.saving.register_keras_serializable(package="iss_rnns")
class BayesianDense(SparseVDWeights, keras.layers.Layer):
    """Dense layer (e.g. the softmax) whose kernel has the sparse variational dropout posterior.

    The kernel is sampled once per call, as in BayesianLSTM (one matrix product per step; the local
    reparameterization trick would cost a second one of the same size). The bias is deterministic.
    """

    STOCHASTIC = ("kernel",)

    def __init__(self, units: int, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 init_log_sigma2: float = -10.0, seed: int | None = None, sigma_variable: str = "log_sigma2", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self._init_sparse_vd(init_log_sigma2, seed, sigma_variable)

    def build(self, input_shape):
        self.add_stochastic_weight("kernel", (int(input_shape[-1]), self.units), self.kernel_initializer)
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="bias")

    def call(self, inputs, training=False):
        return ops.matmul(inputs, self._value("kernel", training)) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def evaluation_weights(self) -> dict[str, np.ndarray]:
        return {"kernel": ops.convert_to_numpy(self._value("kernel", False)), "bias": self.bias.numpy()}

    def get_config(self):
        config = self._sparse_vd_config(super().get_config())
        config.update(units=self.units, kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config


@keras.saving.register_keras_serializable(package="iss_rnns")
class BayesianEmbedding(SparseVDWeights, keras.layers.Layer):
    """Embedding lookup whose table has the sparse variational dropout posterior.

    Training adds the noise per looked-up row (each token occurrence draws its own, the local
    reparameterization of a lookup: the same marginal as sampling the table, without drawing
    the whole table every step).
    """

    STOCHASTIC = ("embeddings",)

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 init_log_sigma2: float = -10.0, seed: int | None = None, sigma_variable: str = "log_sigma2", **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self._init_sparse_vd(init_log_sigma2, seed, sigma_variable)

    def build(self, input_shape):
        self.add_stochastic_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)

    def call(self, inputs, training=False):
        inputs = ops.cast(inputs, "int32")
        if not training:
            return ops.take(self._value("embeddings", False), inputs, axis=0)
        mu = ops.take(self.embeddings, inputs, axis=0)
        noise = keras.random.normal(ops.shape(mu), seed=self.seed_generator, dtype=mu.dtype)
        return posterior_value(mu, self.log_sigma2("embeddings", rows=inputs), noise)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def evaluation_weights(self) -> dict[str, np.ndarray]:
        return {"embeddings": ops.convert_to_numpy(self._value("embeddings", False))}

    def get_config(self):
        config = self._sparse_vd_config(super().get_config())
        config.update(input_dim=self.input_dim, output_dim=self.output_dim,
                      embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer))
        return config


def kept_at_evaluation(layer, name) -> np.ndarray:
    """Which entries of the stochastic variable `name` evaluation keeps: log alpha < 3 and a non-zero mean."""
    mu, ls2 = getattr(layer, name).numpy(), ops.convert_to_numpy(layer.log_sigma2(name))
    return (ops.convert_to_numpy(log_alpha(mu, ls2)) < LOG_ALPHA_THRESHOLD) & (mu != 0)


def structure_report(layer: SparseVDWeights) -> dict:
    """What survives at evaluation: weights; for an LSTM also input and hidden neurons and non-constant gates per type.

    A gate of unit j is constant when its group variable is removed, or when every weight that
    feeds its preactivation is removed (live inputs and hidden neurons only).
    """
    if not isinstance(layer, BayesianLSTM):
        kept = kept_at_evaluation(layer, layer.stochastic[0])
        return {"weights": int(kept.sum()), "weights_total": int(kept.size)}
    h = layer.units
    zx = np.ones(layer.token_inputs, bool) if layer.token_inputs else kept_at_evaluation(layer, "input_neurons")
    zh = kept_at_evaluation(layer, "hidden_neurons")
    zg = kept_at_evaluation(layer, "gate_preactivations") if layer.gate_groups else np.ones(4 * h, bool)
    wx, wh = kept_at_evaluation(layer, "kernel") & zx[:, None], kept_at_evaluation(layer, "recurrent_kernel") & zh[:, None]
    fed = wx.any(axis=0) | wh.any(axis=0)
    live_gates = zg & fed
    return {
        "weights": int(wx.sum() + wh.sum()), "weights_total": int(wx.size + wh.size),
        "input_neurons": int(zx.sum()), "hidden_neurons": int(zh.sum()), "units": h,
        "gates": {name: int(live_gates[k * h : (k + 1) * h].sum()) for k, name in enumerate(GATES)},
    }


def counted_as_lobacheva(lstms: list[BayesianLSTM], softmax: BayesianDense | None = None) -> dict:
    """Kept weights of a stack of Bayesian LSTMs (and its Bayesian softmax) counted as Lobacheva et al.'s code counts them.

    Their logs count a weight only if both neurons it joins are live: a hidden unit j is live when
    its z_h is kept and something still reads it (a kept entry in row j of its recurrent kernel or
    of the next layer's kernel: the next LSTM's, else the softmax's); the columns of a dead unit's
    four gates, its recurrent row and the reader's row j are then not counted. structure_report
    counts each matrix on its own (rows of removed z_x / z_h out, columns kept), so the two can
    differ. With hidden_scaling="recurrence" z_h does not silence the output, so a unit the next
    layer reads stays live whatever its z_h (its recurrent row still goes with a removed z_h).
    Gate variables are not applied, as in their count.
    Returns {layer name: {"kernel", "recurrent_kernel", "hidden_neurons"}, softmax name: {"kernel"},
    "weights", "weights_total"}; "hidden_neurons" is their z_h.
    """
    kernels = [(kept_at_evaluation(layer, "kernel"), kept_at_evaluation(layer, "recurrent_kernel")) for layer in lstms]
    readers = [wx for wx, _ in kernels[1:]] + [kept_at_evaluation(softmax, "kernel") if softmax is not None else None]
    first = lstms[0]  # its live inputs: every word, or its kept z_x
    rows = np.ones(first.token_inputs, bool) if first.token_inputs else kept_at_evaluation(first, "input_neurons")
    report, total, weights_total = {}, 0, 0
    for layer, (wx, wh), reader in zip(lstms, kernels, readers):
        read = reader.any(axis=1) if reader is not None else np.ones(layer.units, bool)
        zh = kept_at_evaluation(layer, "hidden_neurons")
        if layer.hidden_scaling == "output":
            live = zh & (wh.any(axis=1) | read)
        else:
            live = (zh & wh.any(axis=1)) | read
        columns = np.tile(live, 4)
        counted = {"kernel": int((wx & rows[:, None] & columns[None, :]).sum()),
                   "recurrent_kernel": int((wh & (live & zh)[:, None] & columns[None, :]).sum()),
                   "hidden_neurons": int(live.sum())}
        report[layer.name] = counted
        total += counted["kernel"] + counted["recurrent_kernel"]
        weights_total += wx.size + wh.size
        rows = live
    if softmax is not None:
        ws = readers[-1]
        report[softmax.name] = {"kernel": int((ws & rows[:, None]).sum())}
        total += report[softmax.name]["kernel"]
        weights_total += ws.size
    return {**report, "weights": total, "weights_total": weights_total}


def stock_lstm_weights(layer: BayesianLSTM) -> dict[str, np.ndarray]:
    """The evaluation-time layer as the kernel, recurrent_kernel and bias of a stock Keras LSTM.

    At evaluation pre = ((x z_x) W_x + (h z_h) W_h) z_g + b with every variable of log alpha > 3
    at zero, which is x W_x' + h W_h' + b with W_x' = diag(z_x) W_x diag(z_g) and
    W_h' = diag(z_h) W_h diag(z_g): the group variables fold into the kernels, and a constant gate
    keeps only its bias (its columns are zero). Same gate order (i, f, c, o), same outputs.
    """
    value = {n: ops.convert_to_numpy(layer._value(n, training=False)) for n in layer.stochastic}
    gates = value["gate_preactivations"][None, :] if layer.gate_groups else 1.0
    inputs = value["input_neurons"][:, None] if "input_neurons" in value else 1.0  # none on one-hot words
    return {
        "kernel": inputs * value["kernel"] * gates,
        "recurrent_kernel": value["hidden_neurons"][:, None] * value["recurrent_kernel"] * gates,
        "bias": layer.bias.numpy(),
    }


def output_scale(layer: BayesianLSTM) -> np.ndarray | None:
    """The evaluation-time z_h that multiplies the layer's output (hidden_scaling="output"), else None.

    stock_lstm_weights folds z_h into the recurrent kernel only; with "output" the rows of whatever
    reads the layer (the next LSTM's kernel, the softmax kernel) take it too.
    """
    if layer.hidden_scaling != "output":
        return None
    return ops.convert_to_numpy(layer._value("hidden_neurons", training=False))
