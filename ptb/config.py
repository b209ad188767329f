"""PTB configurations: the reference's presets and its JSON override files.

Presets follow Zaremba et al. / the TF tutorial and the ISS paper (ISS_REFERENCE.md, Sec. 3).
A JSON file in the iss-rnns format overrides learning rate, L1 (`weight_decay`), dropout and
the group-Lasso settings:

    {"learning_rate": 1.0, "weight_decay": 0.0, "dropout_keep_prob": 0.6,
     "grouplasso": {"global_decay": 0.00245,
                    "<layer>": {"structure_decay_multi": 1.0, "coupled_layer": "..."}}}

`<layer>` is our layer name (`lstm_0`, `lstm_1`, `softmax`) or the reference's TF1 variable
name (`Model/RNN/multi_rnn_cell/cell_0/basic_lstm_cell/weights`, `Model/softmax_w`).
"""

from __future__ import annotations

import dataclasses

from common.cli import read_json_object
from common.errors import ConfigError, check_range
from common.run_folder import RunKind
from ptb.reader import load_ptb


@dataclasses.dataclass(frozen=True)
class PTBConfig:
    init_scale: float
    learning_rate: float
    max_grad_norm: float
    num_steps: int
    hidden_size: int  # embedding width (none with one_hot_input), and each LSTM's width unless hidden_sizes says otherwise
    max_epoch: int  # epochs at the initial learning rate (exponential schedule)
    max_max_epoch: int
    keep_prob: float
    lr_decay: float
    batch_size: int
    hidden_sizes: tuple = ()  # per-layer LSTM widths (direct design, compact models)
    num_layers: int = 2
    one_hot_input: bool = False  # the first LSTM reads one-hot words: no embedding (Lobacheva et al.'s model)
    lr_schedule: str = "exponential"  # or "step": x lr_decay every lr_step_epochs epochs
    lr_step_epochs: int = 0
    weight_decay: float = 0.0  # L1 strength on all weights but the embedding
    group_lasso: float = 0.0  # ISS strength ("global_decay")
    group_lasso_multipliers: tuple = ()  # per LSTM layer ("structure_decay_multi")
    row_col_lasso: float = 0.0  # row/column group Lasso strength
    row_col_multipliers: tuple = ()  # ((variable, row_multi, col_multi), ...)
    zero_threshold: float = 1e-4
    optimizer: str = "gd"
    adam_epsilon: float = 1e-7  # Adam's epsilon (Keras' default), added to sqrt(v) of this loss, summed over num_steps
    freeze_mode: str = ""  # "" or "element"
    set_epsilon: float = 0.0  # SET: Erdos-Renyi density parameter of the masked matrices (0: SET off)
    set_zeta: float = 0.3  # SET: fraction of live weights pruned and regrown after each epoch
    kl_weight: float = 0.0  # structured Bayesian LSTMs (Lobacheva et al.) when > 0: KL per training sequence
    bayes_layers: str = "lstm"  # Bayesian: "lstm" (the LSTMs), or "all" (embedding and softmax weights too)
    bayes_gates: bool = True  # Bayesian: group variables on the gate preactivations (W+N+G); False: W+N
    bayes_group_noise: str = "batch"  # Bayesian: group variables drawn once per "batch", or per "sequence"
    bayes_hidden_scaling: str = "recurrence"  # Bayesian: z_h scales h where the "recurrence" reads it, or the "output"
    bayes_init: str = "uniform"  # Bayesian: the preset's uniform init, or "lobacheva" (orthogonal, forget bias 1, ...)
    bayes_log_alpha_clip: float = 10.0  # Bayesian: the KL clips log alpha to [-this, this] (Lobacheva et al.'s code: 8)
    bayes_sigma_variable: str = "log_sigma2"  # Bayesian: the noise variables hold "log_sigma2", or "log_sigma" (theirs)
    bayes_kl_fit: str = "molchanov"  # Bayesian: the KL's fitted curve, Molchanov et al.'s or "lobacheva" (their rounding)
    gate_hidden: int = 0  # H-LSTMs with this gate hidden width, trained by grow-and-prune (Dai et al.), when > 0
    seed_density: float = 0.5  # grow-and-prune: density of the random initial masks
    grow_epochs: int = 2  # grow-and-prune: growth before epochs 2 .. grow_epochs + 1
    grow_fraction: float = 0.5  # grow-and-prune: connections added per growth, relative to the live ones
    prune_epochs: int = 2  # grow-and-prune: pruning steps that follow, down to target_density
    target_density: float = 0.2  # grow-and-prune: final density of the masked matrices

    def __post_init__(self):
        """Refuse values that would train without complaint and do the wrong thing (JSON files reach here unchecked)."""
        for key in ("init_scale", "learning_rate", "max_grad_norm", "lr_decay", "bayes_log_alpha_clip", "adam_epsilon"):
            check_range(key, getattr(self, key), 0.0, low_open=True)
        for key in ("weight_decay", "group_lasso", "row_col_lasso", "zero_threshold", "set_epsilon", "kl_weight",
                    "grow_fraction"):
            check_range(key, getattr(self, key), 0.0)
        for i, multiplier in enumerate(self.group_lasso_multipliers):
            check_range(f"structure_decay_multi of lstm_{i}", multiplier, 0.0)
        for variable, row, column in self.row_col_multipliers:
            check_range(f"row_decay_multi of {variable}", row, 0.0)
            check_range(f"col_decay_multi of {variable}", column, 0.0)
        check_range("keep_prob (dropout_keep_prob)", self.keep_prob, 0.0, 1.0, low_open=True)
        check_range("set_zeta", self.set_zeta, 0.0, 1.0, high_open=True)
        for key in ("seed_density", "target_density"):
            check_range(key, getattr(self, key), 0.0, 1.0, low_open=True)
        for key in ("num_steps", "hidden_size", "max_epoch", "max_max_epoch", "batch_size", "num_layers"):
            check_range(key, getattr(self, key), 1)
        for key in ("gate_hidden", "grow_epochs", "prune_epochs", "lr_step_epochs"):
            check_range(key, getattr(self, key), 0)
        choices = {"lr_schedule": ("exponential", "step"), "optimizer": ("gd", "adam"), "freeze_mode": ("", "element"),
                   "bayes_sigma_variable": ("log_sigma2", "log_sigma"), "bayes_kl_fit": ("molchanov", "lobacheva")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} must be one of {allowed}, got {getattr(self, key)!r}")
        if self.lr_schedule == "step" and self.lr_step_epochs < 1:
            raise ConfigError(f"lr_schedule 'step' needs lr_step_epochs >= 1, got {self.lr_step_epochs}")

    @property
    def lstm_sizes(self) -> tuple:
        return tuple(self.hidden_sizes) or (self.hidden_size,) * self.num_layers

    def learning_rate_at(self, epoch: int) -> float:
        """Learning rate of 0-based `epoch` (the tutorial: decay ** max(epoch + 1 - max_epoch, 0))."""
        if self.lr_schedule == "step":
            return self.learning_rate * self.lr_decay ** (epoch // self.lr_step_epochs)
        return self.learning_rate * self.lr_decay ** max(epoch + 1 - self.max_epoch, 0)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, fields: dict) -> "PTBConfig":
        fields = dict(fields)
        for key in ("hidden_sizes", "group_lasso_multipliers"):
            fields[key] = tuple(fields[key])
        fields["row_col_multipliers"] = tuple(tuple(r) for r in fields["row_col_multipliers"])
        return cls(**fields)


PRESETS = {
    "small": PTBConfig(0.1, 1.0, 5, 20, 200, 4, 13, 1.0, 0.5, 20),
    "medium": PTBConfig(0.05, 1.0, 5, 35, 650, 6, 39, 0.5, 0.8, 20),
    "large": PTBConfig(0.04, 1.0, 10, 35, 1500, 14, 55, 0.35, 1 / 1.15, 20),
    "sparselarge": PTBConfig(0.04, 1.0, 10, 35, 1500, 18, 55, 0.60, 0.1, 20, lr_schedule="step", lr_step_epochs=18),
    "test": PTBConfig(0.5, 1.0, 5, 5, 16, 1, 1, 1.0, 0.5, 4),  # tiny, for smoke tests (learns in 1 epoch)
}

RUN_KIND = RunKind("ptb", PTBConfig, load_data=load_ptb, module="ptb.model")  # its programs' checks before Keras


_TOP_KEYS = {"learning_rate", "weight_decay", "dropout_keep_prob", "grouplasso", "save_path"}
_ISS_KEYS = {"structure_decay_multi", "coupled_layer", "couple_split_num"}
_ROWCOL_KEYS = {"row_decay_multi", "col_decay_multi"}


def layer_for_name(name: str, num_layers: int) -> str:
    """Our layer name for one of the reference's variable names (or for our own name)."""
    ours = {f"lstm_{i}" for i in range(num_layers)} | {"softmax"}
    if name in ours:
        return name
    for i in range(num_layers):
        if name == f"Model/RNN/multi_rnn_cell/cell_{i}/basic_lstm_cell/weights":
            return f"lstm_{i}"
    if name == "Model/softmax_w":
        return "softmax"
    raise ConfigError(f"grouplasso names unknown layer {name!r}; use one of {sorted(ours)} or the reference's TF1 names")


def _number(value, key: str, source: str, low: float = 0.0, low_open: bool = False) -> float:
    """A number of the file: every one of them (rates, strengths, multipliers) is at least 0."""
    return check_range(f"{source}: {key}", value, low, low_open=low_open)


def apply_config_file(config: PTBConfig, path: str) -> PTBConfig:
    """`config` with the overrides of an iss-rnns JSON config file."""
    data = read_json_object(path)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})")
    changes = {}
    if "learning_rate" in data:
        changes["learning_rate"] = _number(data["learning_rate"], "learning_rate", path, low_open=True)
    if "weight_decay" in data:
        changes["weight_decay"] = _number(data["weight_decay"], "weight_decay", path)
    if "dropout_keep_prob" in data:
        changes["keep_prob"] = check_range(f"{path}: dropout_keep_prob", data["dropout_keep_prob"], 0.0, 1.0, low_open=True)
    if "grouplasso" in data:
        changes.update(_group_lasso_settings(data["grouplasso"], config.num_layers, path))
    try:
        return dataclasses.replace(config, **changes)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _group_lasso_settings(section, num_layers: int, path: str) -> dict:
    if not isinstance(section, dict) or "global_decay" not in section:
        raise ConfigError(f"{path}: grouplasso must be an object with a global_decay")
    decay = _number(section["global_decay"], "grouplasso.global_decay", path)
    iss = {}
    rowcol = []
    for name, entry in section.items():
        if name == "global_decay":
            continue
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: grouplasso.{name} must be an object")
        layer = layer_for_name(name, num_layers)
        keys = set(entry)
        if keys & _ISS_KEYS and keys & _ROWCOL_KEYS or not keys <= _ISS_KEYS | _ROWCOL_KEYS:
            raise ConfigError(
                f"{path}: grouplasso.{name} has keys {sorted(keys)}; use either "
                f"{sorted(_ISS_KEYS)} (ISS) or {sorted(_ROWCOL_KEYS)} (rows/columns)"
            )
        if keys & _ISS_KEYS:
            if layer == "softmax":
                raise ConfigError(f"{path}: ISS groups belong to LSTM layers, not {name!r}")
            iss[layer] = _number(entry.get("structure_decay_multi", 1.0), f"{name}.structure_decay_multi", path)
        else:
            rowcol.append((layer, _number(entry.get("row_decay_multi", 0.0), "row_decay_multi", path),
                           _number(entry.get("col_decay_multi", 0.0), "col_decay_multi", path)))
    out = {}
    if iss:
        out["group_lasso"] = decay
        out["group_lasso_multipliers"] = tuple(iss.get(f"lstm_{i}", 0.0) for i in range(num_layers))
    if rowcol:
        out["row_col_lasso"] = decay
        out["row_col_multipliers"] = tuple(rowcol)
    if not out:
        raise ConfigError(f"{path}: grouplasso names no layer to regularize")
    return out
