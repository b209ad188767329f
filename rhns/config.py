"""RHN configurations: Zilly et al.'s `ptb_sota` and the ISS paper's `ptb_iss_sota`.

Field names are the references' config names (Zilly et al.'s sacred configs, which the
iss-rnns RHN code extends with `structure_wd`), so a config dumped there reads here as JSON:

    {"hidden_size": 830, "depth": 10, "learning_rate": 0.2, "drop_x": 0.15, "structure_wd": 0.005}

drop_* are drop probabilities (keep = 1 - drop), as in the references: drop_x whole words of
the embedding, drop_i the RHN input, drop_h the recurrent state, drop_o the RHN output; each
mask is drawn once per window and shared by all its time steps (variational dropout).
"""

from __future__ import annotations

import dataclasses

from common.cli import read_json_object
from common.errors import ConfigError, check_range
from common.run_folder import RunKind
from ptb.reader import load_ptb


@dataclasses.dataclass(frozen=True)
class RHNConfig:
    init_scale: float
    init_bias: float  # transform-gate bias at initialization
    depth: int  # recurrence depth: highway micro-steps per time step
    hidden_size: int  # RHN width = embedding width (tied)
    learning_rate: float
    lr_decay: float  # lr / lr_decay ** max(epoch + 1 - max_epoch, 0)
    weight_decay: float  # L2, TF l2_loss scale (half the sum of squares), all trainable weights
    max_grad_norm: float
    num_steps: int
    max_epoch: int
    max_max_epoch: int
    batch_size: int
    drop_x: float
    drop_i: float
    drop_h: float
    drop_o: float
    structure_wd: float = 0.0  # ISS group-Lasso strength
    zero_threshold: float = 4e-4  # applied after every step when ISS (or freezing) is on
    freeze_mode: str = ""  # "" or "element": zero weights stay zero (fine-tuning)

    def __post_init__(self):
        for key in ("drop_x", "drop_i", "drop_h", "drop_o"):
            value = getattr(self, key)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{key} is a drop probability and must be in [0, 1), got {value}")
        for key in ("depth", "hidden_size", "num_steps", "batch_size", "max_max_epoch"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        for key in ("init_scale", "learning_rate", "lr_decay", "max_grad_norm"):
            check_range(key, getattr(self, key), 0.0, low_open=True)
        for key in ("weight_decay", "structure_wd", "zero_threshold"):
            check_range(key, getattr(self, key), 0.0)
        if self.freeze_mode not in ("", "element"):
            raise ConfigError(f"freeze_mode must be '' or 'element', got {self.freeze_mode!r}")

    def learning_rate_at(self, epoch: int) -> float:
        """Learning rate of 0-based `epoch`: constant for max_epoch epochs, then divided by lr_decay each epoch."""
        return self.learning_rate / self.lr_decay ** max(epoch + 1 - self.max_epoch, 0)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, fields: dict) -> "RHNConfig":
        return cls(**fields)


_SOTA = dict(init_scale=0.04, init_bias=-2.0, depth=10, hidden_size=830, learning_rate=0.2, lr_decay=1.02,
             weight_decay=1e-7, max_grad_norm=10.0, num_steps=35, max_epoch=20, max_max_epoch=500, batch_size=20)
PRESETS = {
    # Zilly et al.: 67.9 / 65.4, 23.5M weights
    "ptb_sota": RHNConfig(**_SOTA, drop_x=0.25, drop_i=0.75, drop_h=0.25, drop_o=0.75),
    # ISS paper: lighter dropout, ISS lambda 0.005, zero threshold 4e-4 (830 -> 517 units)
    "ptb_iss_sota": RHNConfig(**_SOTA, drop_x=0.15, drop_i=0.45, drop_h=0.15, drop_o=0.45, structure_wd=0.005),
    # tiny, for smoke tests (learns the test grammar in one epoch on a CPU)
    "test": RHNConfig(init_scale=0.3, init_bias=-2.0, depth=2, hidden_size=16, learning_rate=0.5, lr_decay=1.02,
                      weight_decay=1e-7, max_grad_norm=5.0, num_steps=5, max_epoch=1, max_max_epoch=1, batch_size=4,
                      drop_x=0.0, drop_i=0.0, drop_h=0.0, drop_o=0.0),
}

RUN_KIND = RunKind("rhn", RHNConfig, load_data=load_ptb, module="rhns.model")  # its programs' checks before Keras

# Keys of the references' configs that only name what this code fixes: accepted when they agree.
_FIXED = {"num_layers": 1, "tied": True, "dataset": "ptb"}
_IGNORED = {"data_path", "vocab_size", "load_model", "mc_steps", "seed", "save_path"}


def apply_config_file(config: RHNConfig, path: str) -> RHNConfig:
    """`config` with the values of a JSON object of reference config names."""
    data = read_json_object(path)
    fields = {f.name: f for f in dataclasses.fields(RHNConfig)}
    unknown = sorted(set(data) - set(fields) - set(_FIXED) - _IGNORED)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
    for key, required in _FIXED.items():
        if key in data and data[key] != required:
            raise ConfigError(f"{path}: {key}={data[key]!r} is not supported; this RHN has {key}={required!r}")
    changes = {}
    for key, value in data.items():
        if key not in fields:
            continue
        kind = fields[key].type
        if kind == "str":
            if not isinstance(value, str):
                raise ConfigError(f"{path}: {key} must be a string, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and value != int(value)):
            raise ConfigError(f"{path}: {key} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
        changes[key] = int(value) if kind == "int" else (value if kind == "str" else float(value))
    try:
        return dataclasses.replace(config, **changes)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
