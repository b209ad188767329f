"""Extraction: delete every all-zero ISS component and build a physically smaller dense model.

A dead component k contributes nothing: its gate columns and recurrent row are zero, so the
other units never see it, and the consumer rows that read h_k are zero, so nothing downstream
does either. Deleting it (the gate columns, the recurrent row and column, the consumer rows)
gives a model with fewer units and exactly the same outputs (ISS paper Sec. 3).

The deletion works from the group slices alone, so it applies to any architecture whose groups
are described (`compact_weights`); `extract_compact_model` adds the rebuild for functional and
Sequential Keras models of LSTM / Bidirectional(LSTM) / Dense layers.
"""

from __future__ import annotations

import keras
import numpy as np

from common.groups import derive_iss_groups
from common.layers import rnn_state_variables
from common.stats import live_components, model_values


def kept_components(groups, values, allow_empty: bool = False) -> dict[str, np.ndarray]:
    """Indices of the live components of each group, keyed by group name.

    A group with no live component cannot become a layer: an error, unless allow_empty (statistics).
    """
    kept = {}
    for g in groups:
        idx = np.flatnonzero(live_components(g, values))
        if idx.size == 0 and not allow_empty:
            raise ValueError(
                f"every component of {g.name!r} is zero: the layer would have no units left; "
                "train with a smaller group-Lasso strength"
            )
        kept[g.name] = idx
    return kept


def read_components(groups, values, allow_empty: bool = False) -> dict[str, np.ndarray]:
    """Indices of the components whose output some weight still reads, keyed by group name.

    A component is read when a row slice (the recurrent row, the consumer's row) holds a non-zero.
    One that nobody reads can be deleted even if its own gate columns are live: its state changes
    nothing downstream. (ISS zeroes the whole component, so for ISS this keeps the same units.)
    """
    kept = {}
    for g in groups:
        read = np.zeros(g.size, dtype=bool)
        for s in g.slices:
            if s.axis == 1:  # rows start..end-1: what reads component i
                read |= np.any(values[s.variable][s.start : s.end] != 0, axis=1)
        idx = np.flatnonzero(read)
        if idx.size == 0 and not allow_empty:
            raise ValueError(f"no output of {g.name!r} is read any more: the layer would have no units left")
        kept[g.name] = idx
    return kept


def _bias_of(kernel_path: str, values) -> str | None:
    """The bias that goes with a kernel's columns (".../kernel" or ".../recurrent_kernel" -> ".../bias")."""
    for suffix in ("/kernel", "/recurrent_kernel"):
        if kernel_path.endswith(suffix):
            bias = kernel_path[: -len(suffix)] + "/bias"
            return bias if bias in values else None
    return None


def compact_weights(values: dict, groups, kept: dict) -> dict[str, np.ndarray]:
    """Delete the dropped components' slices from every variable they touch.

    A kernel's dropped columns take the same entries of its bias with them (biases are not in
    the groups, so they are not regularized, but they belong to the deleted gates).
    """
    drop: dict[str, dict[int, set]] = {}
    for g in groups:
        dead = (np.setdiff1d(np.arange(g.size), kept[g.name])).tolist()
        for s in g.slices:
            drop.setdefault(s.variable, {}).setdefault(s.index_dim, set()).update(s.start + i for i in dead)
            bias = _bias_of(s.variable, values) if s.axis == 0 else None
            if bias:
                drop.setdefault(bias, {}).setdefault(0, set()).update(s.start + i for i in dead)
    out = {}
    for path, w in values.items():
        for dim, idx in drop.get(path, {}).items():
            w = np.delete(w, sorted(idx), axis=dim)
        out[path] = w
    return out


@keras.saving.register_keras_serializable(package="iss_rnns")
class UnevenBidirectional(keras.layers.Bidirectional):
    """Bidirectional whose directions may have different widths after ISS extraction.

    Keras' Bidirectional infers a 'concat' output width as twice the forward width; here it is
    forward + backward, which is what `call` actually returns.
    """

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        if self.merge_mode != "concat" or self.return_state:
            return super().compute_output_shape(sequences_shape, initial_state_shape)
        fwd = self.forward_layer.compute_output_shape(sequences_shape)
        bwd = self.backward_layer.compute_output_shape(sequences_shape)
        return tuple(fwd[:-1]) + (fwd[-1] + bwd[-1],)


def _shrunk_layer(layer, widths):
    """A fresh copy of `layer` with the widths in `widths` ({direction or None: units})."""
    if isinstance(layer, keras.layers.Bidirectional):
        fwd = _shrunk_layer(layer.forward_layer, {None: widths["forward"]})
        bwd = _shrunk_layer(layer.backward_layer, {None: widths["backward"]})
        wrapper = keras.layers.Bidirectional if fwd.units == bwd.units else UnevenBidirectional
        return wrapper(fwd, backward_layer=bwd, merge_mode=layer.merge_mode, name=layer.name)
    config = layer.get_config()
    config["units"] = int(widths[None])
    return layer.__class__.from_config(config)


def _unbuilt_copy(layer):
    """A fresh copy of `layer` whose wrapped layers (TimeDistributed's Dense) are built when it is.

    Their serialized build_config would build them while they are deserialized, outside the
    wrapper's name scope: 'time_distributed/dense/kernel' would come back as 'dense/kernel'.
    """
    config = layer.get_config()
    for value in config.values():
        if isinstance(value, dict) and "class_name" in value:
            value.pop("build_config", None)
    return layer.__class__.from_config(config)


def extract_compact_model(model, groups=None):
    """Build the compact dense model of a trained sparse functional/Sequential model.

    Returns (compact_model, report) where report maps each group to its original and kept
    width and the kept unit indices. The compact model is a plain keras.Model (or Sequential),
    with no penalty and no thresholding constraints: ready to save, export and deploy.
    """
    groups = list(groups) if groups is not None else derive_iss_groups(model)
    values = model_values(model)
    kept = kept_components(groups, values)
    widths: dict[str, dict] = {}
    for g in groups:
        if g.layer is None:
            raise ValueError(f"group {g.name!r} names no layer, so the model cannot be rebuilt")
        widths.setdefault(g.layer, {})[g.direction] = len(kept[g.name])

    def clone(layer):
        if layer.name in widths:
            return _shrunk_layer(layer, widths[layer.name])
        return _unbuilt_copy(layer)

    compact = keras.models.clone_model(model, clone_function=clone)
    if not isinstance(compact, keras.Sequential):  # a plain functional model, not a clone of SparseModel & co.,
        compact = keras.Model(compact.input, compact.output, name=model.name)  # so that .keras files load anywhere
    paths = _paths_in_copy(model, compact)
    assign_by_path(compact, {paths.get(p, p): w for p, w in compact_weights(values, groups, kept).items()})
    report = {
        g.name: {"layer": g.layer, "direction": g.direction, "size": g.size, "kept": kept[g.name].tolist()}
        for g in groups
    }
    return compact, report


def _paths_in_copy(model, copy) -> dict[str, str]:
    """{path in `model`: path of the same weight in its clone `copy`}, layer by layer.

    The paths can differ: a Sequential model builds its layers inside its own name scope
    ('sequential/lstm/lstm_cell/kernel'), the functional clone does not ('lstm/lstm_cell/kernel').
    """
    paths = {}
    for layer in model.layers:
        if not layer.weights:  # input layers are not always cloned under their own name
            continue
        twin = copy.get_layer(layer.name)
        names = [v.name for v in layer.weights], [v.name for v in twin.weights]
        if names[0] != names[1]:
            raise ValueError(f"the compact copy of layer {layer.name!r} has weights {names[1]}, expected {names[0]}")
        paths.update((v.path, w.path) for v, w in zip(layer.weights, twin.weights))
    return paths


def assign_by_path(model, values: dict) -> None:
    """Set every weight of `model` from `values` {path: array}; carried RNN states start from zero.

    Used to load a compact model built from scratch at the live widths: every path must be there
    with exactly the model's shape, so a slicing mistake cannot load silently.
    """
    states = rnn_state_variables(model)
    for v in model.weights:
        if id(v) in states:
            continue
        if v.path not in values:
            raise ValueError(f"no value for {v.path!r} of model {model.name!r}")
        w = values[v.path]
        if tuple(w.shape) != tuple(v.shape):
            raise ValueError(f"extracted {v.path!r} has shape {tuple(w.shape)}, the compact model expects {tuple(v.shape)}")
        v.assign(w)


def count_weights(model) -> int:
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))
