"""ISS structure groups: which weights belong to each hidden unit of a recurrent layer.

Wen et al. 2018, Sec. 3: component k of an LSTM layer with H units is every weight that
produces or consumes h_k: column k of the four gate blocks of the input kernel and of the
recurrent kernel, row k of the recurrent kernel, and row k of whatever consumes h_k next.
When the whole component is zero the unit can be deleted without changing the output.

A group is stored as in the iss-rnns JSON format, so the two convert losslessly: a list of
slices of 2-D variables, each a run of `end - start` vectors, vector i belonging to component
i. `axis` is the dimension a vector runs along: axis=1 selects rows start..end-1, axis=0
selects columns. Slices carry a `role` so a reader sees what each one is.
"""

from __future__ import annotations

import dataclasses
import difflib

import keras

from common.errors import check_range

GATE_NAMES = ("input_gate", "forget_gate", "cell_update", "output_gate")  # Keras order i, f, c, o

# Layers that pass each feature through unchanged in position: the consumer of an LSTM is
# looked for behind them.
_FEATURE_PRESERVING = (
    keras.layers.Dropout,
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.SpatialDropout1D,
    keras.layers.Identity,
)
# Pooling over time keeps feature k at position k too (channels_last): LSTM -> GlobalMaxPooling1D -> Dense.
_TIME_POOLING = (
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.AveragePooling1D,
    keras.layers.MaxPooling1D,
)


def _preserves_features(layer) -> bool:
    if isinstance(layer, _TIME_POOLING):
        return layer.data_format == "channels_last"
    return isinstance(layer, _FEATURE_PRESERVING)


@dataclasses.dataclass(frozen=True)
class GroupSlice:
    """`end - start` aligned vectors of one 2-D variable; vector i belongs to component i."""

    variable: str
    axis: int
    start: int
    end: int
    role: str = ""

    def __post_init__(self):
        if self.axis not in (0, 1):
            raise ValueError(f"slice of {self.variable!r}: axis must be 0 or 1, got {self.axis}")
        if not 0 <= self.start < self.end:
            raise ValueError(
                f"slice of {self.variable!r}: need 0 <= start < end, got {self.start}:{self.end}"
            )

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def index_dim(self) -> int:
        """The dimension that start..end index (the other one than `axis`)."""
        return 1 - self.axis


@dataclasses.dataclass(frozen=True)
class ISSGroup:
    """All components of one recurrent layer (or one direction of a bidirectional layer).

    `layer` and `direction` name the Keras layer whose width the components are, so that
    extraction knows which layer to shrink; groups read from a JSON file may leave them empty.
    """

    name: str
    slices: tuple[GroupSlice, ...]
    layer: str | None = None
    direction: str | None = None
    multiplier: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "slices", tuple(self.slices))
        object.__setattr__(self, "multiplier", check_range(f"group {self.name!r} multiplier", self.multiplier, 0.0))
        if not self.slices:
            raise ValueError(f"group {self.name!r} has no slices")
        sizes = {s.size for s in self.slices}
        if len(sizes) != 1:
            raise ValueError(
                f"group {self.name!r}: all slices must have the same number of components, "
                f"got sizes {sorted(sizes)}"
            )
        seen: dict[tuple[str, int], list[GroupSlice]] = {}
        for s in self.slices:
            for other in seen.get((s.variable, s.axis), []):
                if s.start < other.end and other.start < s.end:
                    raise ValueError(
                        f"group {self.name!r}: slices {other.start}:{other.end} and "
                        f"{s.start}:{s.end} of {s.variable!r} (axis {s.axis}) overlap"
                    )
            seen.setdefault((s.variable, s.axis), []).append(s)

    @property
    def size(self) -> int:
        return self.slices[0].size

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.variable for s in self.slices))


def find_variables(model, paths) -> dict[str, keras.Variable]:
    """Map variable paths to the model's variables, with a clear error for unknown names."""
    by_path = {v.path: v for v in model.weights}
    found = {}
    for path in paths:
        if path not in by_path:
            close = difflib.get_close_matches(path, list(by_path), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown variable {path!r} in model {model.name!r}{hint}")
        found[path] = by_path[path]
    return found


def check_group_shapes(groups, shapes: dict[str, tuple]) -> None:
    """Raise if a slice names a non-2-D variable or runs past the variable's extent."""
    for group in groups:
        for s in group.slices:
            shape = tuple(shapes[s.variable])
            if len(shape) != 2:
                raise ValueError(
                    f"group {group.name!r}: {s.variable!r} has shape {shape}; only 2-D "
                    "variables can be sliced into groups"
                )
            if s.end > shape[s.index_dim]:
                raise ValueError(
                    f"group {group.name!r}: slice {s.start}:{s.end} of {s.variable!r} is out of "
                    f"range for shape {shape} (axis {s.axis} vectors, {shape[s.index_dim]} of them)"
                )


def lstm_iss_group(lstm, consumer_rows, name=None, layer=None, direction=None) -> ISSGroup:
    """The ISS components of one built `keras.layers.LSTM`.

    consumer_rows: (kernel variable or path, row offset) for every layer that reads this
    LSTM's output; row offset + k is the kernel row that h_k multiplies.
    layer / direction: the layer that owns the width (a Bidirectional wrapper for its directions).
    """
    cell = lstm.cell
    units = cell.units
    slices = []
    for var, kind in ((cell.kernel, "input"), (cell.recurrent_kernel, "recurrent")):
        for g, gate in enumerate(GATE_NAMES):
            slices.append(GroupSlice(var.path, 0, g * units, (g + 1) * units, f"{kind}_{gate}_columns"))
    slices.append(GroupSlice(cell.recurrent_kernel.path, 1, 0, units, "recurrent_rows"))
    for kernel, offset in consumer_rows:
        path = kernel if isinstance(kernel, str) else kernel.path
        slices.append(GroupSlice(path, 1, offset, offset + units, "consumer_rows"))
    return ISSGroup(name or lstm.name, tuple(slices), layer=layer or lstm.name, direction=direction)


def highway_iss_group(rhn, tied_embedding=None, consumer_rows=(), name=None) -> ISSGroup:
    """The ISS components of one built `common.highway.RecurrentHighway` layer of width W.

    Component k: at every depth, column k of the H and of the T transform (the recurrent kernel's
    columns k and W + k, and at depth 0 the input kernel's too) and row k of the recurrent kernel
    (s_k fed to the next micro-step). With a tied embedding E [vocab, W] (Zilly et al.'s model),
    column k of E is both input feature k and the output weights of s_k, so the component also
    spans E's column k and the input kernel's row k: deleting unit k then deletes the embedding
    dimension k too. Without one, consumer_rows lists what reads s_k, as for `lstm_iss_group`.
    """
    w = rhn.units
    slices = []
    for level, depth in enumerate(rhn.depths):
        kernels = [(depth.kernel, "input")] if level == 0 else []
        for var, kind in kernels + [(depth.recurrent_kernel, "recurrent")]:
            slices.append(GroupSlice(var.path, 0, 0, w, f"depth{level}_{kind}_H_columns"))
            slices.append(GroupSlice(var.path, 0, w, 2 * w, f"depth{level}_{kind}_T_columns"))
        slices.append(GroupSlice(depth.recurrent_kernel.path, 1, 0, w, f"depth{level}_recurrent_rows"))
    if tied_embedding is not None:
        if tied_embedding.width != w or rhn.depths[0].input_dim != w:
            raise ValueError(
                f"a tied embedding of width {tied_embedding.width} cannot share components with "
                f"{rhn.name!r} (width {w}, input width {rhn.depths[0].input_dim}): the widths must be equal"
            )
        slices.append(GroupSlice(tied_embedding.embeddings.path, 0, 0, w, "tied_embedding_columns"))
        slices.append(GroupSlice(rhn.depths[0].kernel.path, 1, 0, w, "input_rows"))
    for kernel, offset in consumer_rows:
        path = kernel if isinstance(kernel, str) else kernel.path
        slices.append(GroupSlice(path, 1, offset, offset + w, "consumer_rows"))
    return ISSGroup(name or rhn.name, tuple(slices), layer=rhn.name)


def input_kernels(layer) -> list:
    """The kernels through which `layer` reads its input, in the order of its input features."""
    if isinstance(layer, keras.layers.TimeDistributed):
        return input_kernels(layer.layer)
    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer.cell.kernel, layer.backward_layer.cell.kernel]
    if isinstance(layer, keras.layers.LSTM):
        return [layer.cell.kernel]
    if isinstance(layer, keras.layers.Dense):
        return [layer.kernel]
    raise TypeError(
        f"layer {layer.name!r} ({type(layer).__name__}) reads an LSTM output, but ISS groups "
        "can only extend into LSTM, Bidirectional(LSTM), Dense or TimeDistributed(Dense) "
        "consumers (directly, or through dropout, noise and channels_last pooling over time); "
        "build the groups by hand with lstm_iss_group()"
    )


def _consumers_by_producer(model):
    """({producer name: [layers reading its first output]}, {producer name: [layers reading another output]})."""
    consumers: dict[str, list] = {}
    other_outputs: dict[str, list] = {}  # an RNN's return_state outputs, for one
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                history = tensor._keras_history
                readers = other_outputs if history.tensor_index else consumers
                readers.setdefault(history.operation.name, []).append(layer)
    return consumers, other_outputs


def _real_consumers(name, consumers, model_outputs):
    """Consumers of a layer's output, looking through feature-preserving layers (dropout, pooling over time)."""
    found = []
    for layer in consumers.get(name, []):
        if _preserves_features(layer):
            if layer.name in model_outputs:
                raise ValueError(f"the output of {name!r} is a model output, so its units cannot be removed")
            found.extend(_real_consumers(layer.name, consumers, model_outputs))
        else:
            found.append(layer)
    return found


def derive_iss_groups(model) -> list[ISSGroup]:
    """ISS groups of every LSTM and Bidirectional(LSTM) layer of a functional/Sequential model."""
    if not hasattr(model, "_inbound_nodes") or not getattr(model, "_is_graph_network", True):
        raise TypeError("derive_iss_groups needs a functional or Sequential model")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; call it on data first")
    for layer in model.layers:
        if isinstance(layer, keras.Model) and any(isinstance(s, keras.layers.RNN) for s in layer._flatten_layers()):
            raise TypeError(
                f"model {model.name!r} holds LSTMs inside the nested model {layer.name!r}; ISS groups are derived "
                "from the top-level graph only: build the model from the layers themselves, or build the groups by "
                "hand with lstm_iss_group()"
            )
    consumers, state_readers = _consumers_by_producer(model)
    outputs = {t._keras_history.operation.name for t in model.outputs}
    groups = []
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.LSTM, keras.layers.Bidirectional)):
            continue
        if isinstance(layer, keras.layers.Bidirectional) and not isinstance(layer.forward_layer, keras.layers.LSTM):
            continue
        if layer.name in outputs:
            raise ValueError(f"the output of {layer.name!r} is a model output, so its units cannot be removed")
        if layer.name in state_readers:
            raise TypeError(
                f"layer {state_readers[layer.name][0].name!r} reads the state of {layer.name!r} (return_state), e.g. "
                "as an initial_state: removing units would change that state's width; build the groups by hand "
                "with lstm_iss_group() and couple the two layers' components"
            )
        readers = _real_consumers(layer.name, consumers, outputs)
        if not readers:
            raise ValueError(f"nothing in model {model.name!r} reads the output of {layer.name!r}")
        if isinstance(layer, keras.layers.LSTM):
            rows = [(k, 0) for r in readers for k in input_kernels(r)]
            groups.append(lstm_iss_group(layer, rows))
            continue
        if layer.merge_mode != "concat":
            raise ValueError(
                f"Bidirectional layer {layer.name!r} uses merge_mode={layer.merge_mode!r}; ISS "
                "needs 'concat' so each direction's units own their own consumer rows"
            )
        fwd, bwd = layer.forward_layer, layer.backward_layer
        kernels = [k for r in readers for k in input_kernels(r)]
        for direction, lstm, offset in (("forward", fwd, 0), ("backward", bwd, fwd.units)):
            rows = [(k, offset) for k in kernels]
            groups.append(lstm_iss_group(lstm, rows, f"{layer.name}/{direction}", layer.name, direction))
    return groups
