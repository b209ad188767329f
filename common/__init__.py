"""Shared ISS library: groups, penalties, thresholding, statistics, extraction, plots.

Typical use on a user's own functional Keras LSTM model:

    sparse = common.sparsify(model, group_lasso=0.00245, zero_threshold=1e-4)
    sparse.compile(optimizer="sgd", loss=...)
    sparse.fit(...)
    compact, report = common.extract_compact_model(sparse, sparse.iss_groups)

The names below load on first use (PEP 562), so `import common.errors` or `common.cli` does not
import Keras: the programs refuse a bad flag, config file or data folder in about a second.
`common.load_model` reads a `.keras` file holding any of the library's layers.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "extraction": ("compact_weights", "count_weights", "extract_compact_model", "kept_components"),
    "group_json": ("load_groups", "save_groups", "validate_groups"),
    "errors": ("GroupFileError",),
    "groups": ("GroupSlice", "ISSGroup", "derive_iss_groups", "find_variables", "highway_iss_group", "lstm_iss_group"),
    "highway": ("RecurrentHighway", "TiedEmbedding"),
    "plotting": ("plot_weight_sparsity",),
    "pruning": ("ZeroSmallWeights", "attach_zero_threshold", "hold_zeros_in_every_step", "zero_small_weights",
                "zero_threshold_for"),
    "regularizers": ("L1", "L2", "DimensionGroupLasso", "SparsityPenalty", "StructureGroupLasso", "component_norms",
                     "component_sum_of_squares"),
    "stats": ("SparsityLogger", "flatten_stats", "live_components", "sparsity_stats"),
    "training": ("SparseModel", "sparsify"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
# the modules that register Keras layers for .keras loading (keras.saving.register_keras_serializable)
_LAYER_MODULES = ("bayes", "extraction", "highway", "hlstm", "layers")

__all__ = sorted([*_MODULE_OF, "load_model"])


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f"common.{_MODULE_OF[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name.startswith("__"):
        raise AttributeError(f"module 'common' has no attribute {name!r}")
    try:  # common.bayes etc. after a bare `import common`, as with an eager package
        return importlib.import_module(f"common.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"common.{name}":
            raise
    raise AttributeError(f"module 'common' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])


def load_model(path: str, **kwargs):
    """keras.saving.load_model with every layer class of this library registered first.

    Why: the layers register when their module is imported, and `import common` alone imports
    none of them; a compact model (e.g. with UnevenBidirectional) saved by another process loads here.
    """
    for module in _LAYER_MODULES:
        importlib.import_module(f"common.{module}")
    import keras

    return keras.saving.load_model(path, **kwargs)
