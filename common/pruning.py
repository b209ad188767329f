"""Zero-threshold pruning after every step, and freezing of zero weights.

ISS paper Sec. 3 / reference training loop: after each update every weight with
|w| < max(zero_threshold, 2 * l1) is set to exactly 0; that is what makes whole ISS
components exactly zero. It is done as a Keras constraint on each variable, which the
optimizer applies right after its update inside the compiled train step (no per-batch
Python callback). Freezing (fine-tuning mode "element") also multiplies by a fixed mask of
the weights that were non-zero when fine-tuning started, so zeros stay zero. Masks that move
between epochs (SET, grow-and-prune) are held by `hold_zeros_in_every_step` instead: a fixed mask
is a constant of the compiled step, and changing it would mean compiling the step again.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from common.errors import check_range
from common.groups import find_variables


def zero_threshold_for(zero_threshold: float, l1: float = 0.0) -> float:
    """The reference's threshold: at least twice the L1 strength, so L1 cannot make weights oscillate around 0."""
    return max(check_range("zero threshold", zero_threshold, 0.0), 2.0 * check_range("L1 strength", l1, 0.0))


class ZeroSmallWeights(keras.constraints.Constraint):
    """Sets |w| < threshold to 0; with keep_mask, also every weight where the mask is 0."""

    def __init__(self, threshold: float, keep_mask=None):
        self.threshold = check_range("zero threshold", threshold, 0.0)
        self.keep_mask = None if keep_mask is None else np.asarray(keep_mask, dtype=bool)

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        keep = ops.greater_equal(ops.abs(w), self.threshold)
        if self.keep_mask is not None:
            keep = ops.logical_and(keep, ops.convert_to_tensor(self.keep_mask))
        return ops.where(keep, w, ops.zeros_like(w))

    def get_config(self):
        # The mask is run-time state of one fine-tuning run; it is not serialized.
        return {"threshold": self.threshold}


class _Chain(keras.constraints.Constraint):
    """A user's own constraint followed by ours."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __call__(self, w):
        return self.second(self.first(w))


def attach_zero_threshold(model, threshold: float, variable_paths=None, freeze_zeros: bool = False):
    """Attach ZeroSmallWeights to the model's trainable variables; returns the paths covered.

    variable_paths: which variables (default: every trainable one, as the reference).
    freeze_zeros: keep the currently-zero weights at zero from now on (fine-tuning).
    """
    if variable_paths is None:
        variables = list(model.trainable_weights)
    else:
        variables = list(find_variables(model, variable_paths).values())
    for v in variables:
        mask = (np.asarray(v.numpy()) != 0) if freeze_zeros else None
        constraint = ZeroSmallWeights(threshold, mask)
        existing = v.constraint
        if isinstance(existing, _Chain) and isinstance(existing.second, ZeroSmallWeights):
            existing = existing.first
        elif isinstance(existing, ZeroSmallWeights):
            existing = None
        v.constraint = constraint if existing is None else _Chain(existing, constraint)
    return [v.path for v in variables]


def zero_small_weights(model, threshold: float, variable_paths=None) -> int:
    """Apply the threshold once, outside training (e.g. to a restored model); returns the number zeroed."""
    variables = model.trainable_weights if variable_paths is None else find_variables(model, variable_paths).values()
    zeroed = 0
    for v in variables:
        w = np.asarray(v.numpy())
        small = (np.abs(w) < threshold) & (w != 0)
        zeroed += int(small.sum())
        v.assign(np.where(small, 0, w).astype(w.dtype))
    return zeroed


def hold_zeros_in_every_step(model, variable_paths) -> list[str]:
    """Keep at zero, in every train step, each weight of these variables that is zero when the step begins.

    The zeros are read from the weights inside the step, not fixed when attached (freeze_zeros), so a
    callback may move them between epochs (SET's evolution, grow-and-prune) and the compiled train
    step stays valid: one compile per run, not one per change (on JAX, an XLA compile each time).
    It wraps the compiled model's `optimizer.apply`, which the train step of every backend calls
    (JAX inside `stateless_apply`); the fixed masks of these variables, if any, are dropped, since
    they would hold the old zeros, and a train function already made is made again without them
    (in a callback's on_train_begin it has not been traced yet, so that costs nothing).
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("hold_zeros_in_every_step needs a compiled model (it wraps the optimizer's apply)")
    variables = list(find_variables(model, variable_paths).values())
    held = getattr(optimizer.apply, "held_zero_variables", None)
    if held is None:
        held, apply = {}, optimizer.apply

        def apply_holding_zeros(grads, trainable_variables=None):
            zeros = [(v, ops.equal(ops.convert_to_tensor(v), 0)) for v in held.values()]
            apply(grads, trainable_variables)
            for v, zero in zeros:
                w = ops.convert_to_tensor(v)
                v.assign(ops.where(zero, ops.zeros_like(w), w))

        apply_holding_zeros.held_zero_variables = held
        optimizer.apply = apply_holding_zeros
    for v in variables:
        held[id(v)] = v
        v.constraint = _without_fixed_mask(v.constraint)
    if getattr(model, "train_function", None) is not None:
        model.make_train_function(force=True)
    return [v.path for v in variables]


def _without_fixed_mask(constraint):
    """The constraint with ZeroSmallWeights' fixed mask dropped (its threshold and a user's constraint kept)."""
    if isinstance(constraint, _Chain) and isinstance(constraint.second, ZeroSmallWeights):
        second = _without_fixed_mask(constraint.second)
        return constraint.first if second is None else _Chain(constraint.first, second)
    if isinstance(constraint, ZeroSmallWeights) and constraint.keep_mask is not None:
        return ZeroSmallWeights(constraint.threshold) if constraint.threshold > 0 else None
    return constraint
