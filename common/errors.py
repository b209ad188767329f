"""User errors the entrypoints report as one line (no traceback); importing this loads no framework."""

from __future__ import annotations

import numbers


class DataError(ValueError):
    """The data directory or a data file is missing or unusable; the message says which."""


class ConfigError(ValueError):
    """A config file or flag value that cannot be used; the message names it."""


class RestoreError(ValueError):
    """A restore/save path that does not fit this run; the message says why."""


class GroupFileError(ValueError):
    """A group file that cannot be read as iss-rnns groups; the message names the problem."""


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss or weight; the last good checkpoint is kept."""


def check_range(name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """`value` as a float, or a ConfigError naming `name` when it is not a finite number in the range.

    Why: a negative penalty strength or learning rate trains without complaint and silently
    does the opposite of what was asked (a group Lasso that rewards large groups).
    """
    finite = isinstance(value, numbers.Real) and not isinstance(value, bool) and abs(value) < float("inf")
    if not finite:  # NaN fails abs(value) < inf too
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}{')' if high_open or high is None else ']'}"
        raise ConfigError(f"{name} must be in {interval}, got {value!r}")
    return float(value)
