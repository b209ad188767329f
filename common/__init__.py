"""Shared ISS library: groups, penalties, thresholding, statistics, extraction, plots.

Typical use on a user's own functional Keras LSTM model:

    sparse = common.sparsify(model, group_lasso=0.00245, zero_threshold=1e-4)
    sparse.compile(optimizer="sgd", loss=...)
    sparse.fit(...)
    compact, report = common.extract_compact_model(sparse, sparse.iss_groups)
"""

from common.extraction import compact_weights, count_weights, extract_compact_model, kept_components
from common.group_json import GroupFileError, load_groups, save_groups, validate_groups
from common.groups import (
    GroupSlice,
    ISSGroup,
    derive_iss_groups,
    find_variables,
    highway_iss_group,
    lstm_iss_group,
)
from common.highway import RecurrentHighway, TiedEmbedding
from common.plotting import plot_weight_sparsity
from common.pruning import ZeroSmallWeights, attach_zero_threshold, zero_small_weights, zero_threshold_for
from common.regularizers import (
    L1,
    L2,
    DimensionGroupLasso,
    SparsityPenalty,
    StructureGroupLasso,
    component_norms,
    component_sum_of_squares,
)
from common.stats import SparsityLogger, flatten_stats, live_components, sparsity_stats
from common.training import SparseModel, sparsify

__all__ = [
    "DimensionGroupLasso", "GroupFileError", "GroupSlice", "ISSGroup", "L1", "L2", "RecurrentHighway", "SparseModel",
    "SparsityLogger", "SparsityPenalty", "StructureGroupLasso", "TiedEmbedding", "ZeroSmallWeights",
    "attach_zero_threshold", "compact_weights", "component_norms", "component_sum_of_squares",
    "count_weights", "derive_iss_groups", "extract_compact_model", "find_variables",
    "flatten_stats", "highway_iss_group", "kept_components", "live_components", "load_groups", "lstm_iss_group",
    "plot_weight_sparsity", "save_groups", "sparsify", "sparsity_stats", "validate_groups",
    "zero_small_weights", "zero_threshold_for",
]
