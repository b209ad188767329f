"""BiDAF configuration: Seo et al.'s setup as defaults, the ISS paper's lambda and threshold."""

from __future__ import annotations

import dataclasses

from common.cli import read_json_object
from common.errors import ConfigError, check_range
from common.run_folder import RunKind

LSTM_LAYERS = ("context_lstm", "modeling_lstm_0", "modeling_lstm_1", "output_lstm")


@dataclasses.dataclass(frozen=True)
class BiDAFConfig:
    hidden_size: int = 100  # every LSTM direction, unless lstm_sizes says otherwise
    char_embedding: int = 8
    char_filters: int = 100
    char_width: int = 5
    highway_layers: int = 2
    dropout: float = 0.2  # drop probability (keep 0.8)
    optimizer: str = "adadelta"  # Seo et al.; "adam" for quick runs (AdaDelta's first steps are tiny)
    learning_rate: float = 0.5
    batch_size: int = 60
    ema_decay: float = 0.999  # evaluation uses the moving average of the weights; 0 disables
    max_max_epoch: int = 12
    max_context_len: int = 400  # training examples: contexts cut here, answers beyond are skipped
    max_answer_len: int = 30  # decoding: longest span, in tokens
    group_lasso: float = 0.0  # ISS lambda (the ISS paper: 0.001)
    zero_threshold: float = 4e-4
    lstm_sizes: tuple = ()  # ((forward, backward) per LSTM_LAYERS entry): compact models
    freeze_mode: str = ""

    def __post_init__(self):
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout is a drop probability and must be in [0, 1), got {self.dropout}")
        for key in ("hidden_size", "batch_size", "max_max_epoch", "max_context_len", "max_answer_len"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        check_range("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_range("ema_decay", self.ema_decay, 0.0, 1.0, high_open=True)
        for key in ("group_lasso", "zero_threshold"):
            check_range(key, getattr(self, key), 0.0)
        if self.optimizer not in ("adadelta", "adam"):
            raise ConfigError(f"optimizer must be adadelta or adam, got {self.optimizer!r}")
        if self.lstm_sizes and len(self.lstm_sizes) != len(LSTM_LAYERS):
            raise ConfigError(f"lstm_sizes needs (forward, backward) for each of {LSTM_LAYERS}")

    @property
    def directions(self) -> dict:
        """{layer: (forward units, backward units)}."""
        sizes = self.lstm_sizes or ((self.hidden_size, self.hidden_size),) * len(LSTM_LAYERS)
        return {name: tuple(int(s) for s in pair) for name, pair in zip(LSTM_LAYERS, sizes)}

    def learning_rate_at(self, epoch: int) -> float:
        return self.learning_rate

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, fields: dict) -> "BiDAFConfig":
        fields = dict(fields)
        fields["lstm_sizes"] = tuple(tuple(p) for p in fields.get("lstm_sizes", ()))
        return cls(**fields)


PRESETS = {
    "bidaf": BiDAFConfig(),
    "bidaf_iss": BiDAFConfig(group_lasso=0.001),
    "test": BiDAFConfig(hidden_size=8, char_embedding=4, char_filters=6, char_width=3, highway_layers=1, dropout=0.0,
                        optimizer="adam", learning_rate=0.01, batch_size=8, ema_decay=0.0, max_max_epoch=1, max_context_len=64),
}

RUN_KIND = RunKind("bidaf", BiDAFConfig)  # what its run folders' config.json names


def apply_config_file(config: BiDAFConfig, path: str) -> BiDAFConfig:
    """`config` with the values of a JSON object of BiDAFConfig field names."""
    data = read_json_object(path)
    fields = {f.name: f for f in dataclasses.fields(BiDAFConfig)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
    try:
        return BiDAFConfig.from_json({**config.to_json(), **data})
    except (TypeError, ConfigError) as e:
        raise ConfigError(f"{path}: {e}") from None
