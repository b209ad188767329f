"""Sparsity-inducing penalties: ISS structure group Lasso, row/column group Lasso, L1 (and L2 decay).

All are written with `keras.ops` on a dict {variable path: tensor}, so one implementation
serves the training loss (on TF or JAX tensors inside the compiled step) and the numpy
statistics. Each term's `variables` lists the paths it reads; `SparsityPenalty` checks them
against the model once, when it is bound.
"""

from __future__ import annotations

from keras import ops

from common.errors import check_range
from common.groups import ISSGroup, check_group_shapes, find_variables

GROUP_EPSILON = 1e-8  # inside the square root, as the reference: keeps the gradient finite at 0


def component_sum_of_squares(group: ISSGroup, values):
    """Sum of squares of each component of `group`: a vector of length group.size.

    Every weight counts once, even where a row slice and a column slice of the same matrix
    cross (the recurrent kernel: row k meets column k of each gate block at W_h[k, gH+k]).
    Summing slice by slice counts those crossings twice, so they are subtracted once.
    """
    reduced = {}
    total = 0.0
    for s in group.slices:
        key = (s.variable, s.axis)
        if key not in reduced:
            reduced[key] = ops.sum(ops.square(values[s.variable]), axis=s.axis)
        total = total + reduced[key][s.start : s.end]
    rows = [s for s in group.slices if s.axis == 1]
    cols = [s for s in group.slices if s.axis == 0]
    for r in rows:
        for c in cols:
            if r.variable == c.variable:
                # component i: row r.start+i meets column c.start+i on the block's diagonal
                block = values[r.variable][r.start : r.end, c.start : c.end]
                total = total - ops.square(ops.diagonal(block))
    return total


def component_norms(group: ISSGroup, values):
    """L2 norm of each component of `group` (without the epsilon)."""
    return ops.sqrt(ops.maximum(component_sum_of_squares(group, values), 0.0))


class StructureGroupLasso:
    """strength * sum over groups and components of sqrt(||component||^2 + 1e-8) (ISS, Eq. 1)."""

    def __init__(self, groups, strength: float):
        self.groups = list(groups)
        self.strength = check_range("group Lasso strength", strength, 0.0)

    @property
    def variables(self):
        return tuple(dict.fromkeys(p for g in self.groups for p in g.variables))

    def check_shapes(self, shapes):
        check_group_shapes(self.groups, shapes)

    def __call__(self, values):
        total = 0.0
        for g in self.groups:
            sq = ops.maximum(component_sum_of_squares(g, values), 0.0)
            total = total + g.multiplier * ops.sum(ops.sqrt(sq + GROUP_EPSILON))
        return self.strength * total


class DimensionGroupLasso:
    """Group Lasso whose groups are the rows and/or the columns of each matrix.

    The reference's row/column groups: they zero whole rows or columns of one matrix, which
    does not by itself remove hidden units (it gives no ISS). An entry of `variables` may be a
    tuple of paths stacked along the rows: TF1's LSTM matrix [D+H, 4H] is Keras' kernel on top
    of the recurrent kernel, so its column j spans column j of both.
    """

    def __init__(self, variables, strength: float, rows: bool = True, columns: bool = True):
        if not (rows or columns):
            raise ValueError("DimensionGroupLasso needs rows=True or columns=True")
        self.stacks = tuple((v,) if isinstance(v, str) else tuple(v) for v in variables)
        self.strength = check_range("row/column group Lasso strength", strength, 0.0)
        self.rows, self.columns = rows, columns

    @property
    def variables(self):
        return tuple(dict.fromkeys(p for stack in self.stacks for p in stack))

    def check_shapes(self, shapes):
        for stack in self.stacks:
            for p in stack:
                if len(shapes[p]) != 2:
                    raise ValueError(f"row/column group Lasso needs 2-D variables; {p!r} has shape {tuple(shapes[p])}")
            if len({shapes[p][1] for p in stack}) != 1:
                raise ValueError(f"row-stacked variables {stack} must have the same number of columns")

    def __call__(self, values):
        total = 0.0
        for stack in self.stacks:
            column_sq = 0.0
            for p in stack:
                sq = ops.square(values[p])
                if self.rows:
                    total = total + ops.sum(ops.sqrt(ops.sum(sq, axis=1) + GROUP_EPSILON))
                column_sq = column_sq + ops.sum(sq, axis=0)
            if self.columns:
                total = total + ops.sum(ops.sqrt(column_sq + GROUP_EPSILON))
        return self.strength * total


class _ElementwisePenalty:
    """strength * scale * sum of f(w) over every element of the given variables."""

    scale = 1.0

    def __init__(self, variables, strength: float):
        self.variables = tuple(variables)
        self.strength = check_range(f"{type(self).__name__} strength", strength, 0.0)

    def check_shapes(self, shapes):
        pass

    @staticmethod
    def element(w):
        raise NotImplementedError

    def __call__(self, values):
        total = 0.0
        for p in self.variables:
            total = total + ops.sum(self.element(values[p]))
        return self.strength * self.scale * total


class L1(_ElementwisePenalty):
    """strength * sum |w| over the given variables (the reference's `weight_decay`)."""

    element = staticmethod(ops.abs)


class L2(_ElementwisePenalty):
    """strength * sum w^2 / 2 over the given variables: weight decay with TF's l2_loss scale.

    Zilly et al.'s RHN adds weight_decay * sum of tf.nn.l2_loss (half the sum of squares) over
    all trainable variables; the strength here has the same meaning.
    """

    scale = 0.5
    element = staticmethod(ops.square)


class SparsityPenalty:
    """The sum of penalty terms, evaluated on a model's current variable values.

    Call `bind(model)` once: it resolves every path the terms name (a clear KeyError for an
    unknown one) and checks slice ranges against the shapes. Calling the penalty then reads
    the variables as tensors, which inside Keras' compiled step are the traced values, so the
    gradient flows on both backends.
    """

    def __init__(self, terms=()):
        self.terms = [t for t in terms if t.strength != 0.0]
        self._variables = None

    @property
    def variables(self):
        return tuple(dict.fromkeys(p for t in self.terms for p in t.variables))

    def bind(self, model) -> "SparsityPenalty":
        self._variables = find_variables(model, self.variables)
        shapes = {p: tuple(v.shape) for p, v in self._variables.items()}
        for t in self.terms:
            t.check_shapes(shapes)
        return self

    def values(self):
        if self._variables is None:
            raise RuntimeError("SparsityPenalty is not bound to a model; call bind(model) first")
        return {p: ops.convert_to_tensor(v) for p, v in self._variables.items()}

    def __call__(self, values=None):
        if not self.terms:
            return 0.0
        values = self.values() if values is None else values
        return sum((t(values) for t in self.terms[1:]), self.terms[0](values))
