import dataclasses

import keras
import numpy as np
import pytest
from keras import ops

from common.errors import ConfigError
from common.groups import derive_iss_groups
from common.regularizers import L1, DimensionGroupLasso, SparsityPenalty, StructureGroupLasso, component_sum_of_squares
from common.stats import model_values, sparsity_stats
from common.training import sparsify
from tests.helpers import bidirectional_model, numpy_group_sumsq, stacked_lstm_model


def _random_values(model, rng):
    for v in model.weights:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    return model_values(model)


def test_component_sum_of_squares_matches_explicit_element_sets():
    rng = np.random.default_rng(0)
    for model in (stacked_lstm_model(sizes=(5, 4)), bidirectional_model(sizes=(3, 4))):
        values = _random_values(model, rng)
        for g in derive_iss_groups(model):
            ours = ops.convert_to_numpy(component_sum_of_squares(g, values))
            np.testing.assert_allclose(ours, numpy_group_sumsq(g, values), rtol=1e-5)


def test_structure_group_lasso_value_matches_numpy():
    rng = np.random.default_rng(1)
    model = stacked_lstm_model(sizes=(5, 4))
    values = _random_values(model, rng)
    groups = derive_iss_groups(model)
    expected = 0.003 * sum(np.sqrt(numpy_group_sumsq(g, values) + 1e-8).sum() for g in groups)
    got = float(ops.convert_to_numpy(StructureGroupLasso(groups, 0.003)(values)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_dimension_group_lasso_and_l1_match_numpy():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 6)).astype("float32")
    values = {"w": w}
    rows = np.sqrt((w**2).sum(1) + 1e-8).sum()
    cols = np.sqrt((w**2).sum(0) + 1e-8).sum()
    np.testing.assert_allclose(float(DimensionGroupLasso(["w"], 0.5)(values)), 0.5 * (rows + cols), rtol=1e-5)
    np.testing.assert_allclose(float(DimensionGroupLasso(["w"], 1.0, columns=False)(values)), rows, rtol=1e-5)
    np.testing.assert_allclose(float(L1(["w"], 0.1)(values)), 0.1 * np.abs(w).sum(), rtol=1e-5)
    # a row-stacked pair behaves as the single matrix np.vstack([w, u])
    u = rng.normal(size=(3, 6)).astype("float32")
    stacked = np.vstack([w, u])
    expected = np.sqrt((stacked**2).sum(1) + 1e-8).sum() + np.sqrt((stacked**2).sum(0) + 1e-8).sum()
    got = float(DimensionGroupLasso([("w", "u")], 1.0)({"w": w, "u": u}))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sparse_model_loss_is_data_loss_plus_penalty():
    model = stacked_lstm_model(sizes=(5, 4))
    sparse = sparsify(model, group_lasso=0.01, l1=0.001)
    x = np.random.normal(size=(8, 7, 6)).astype("float32")
    y = np.random.normal(size=(8, 7, 3)).astype("float32")
    sparse.compile(optimizer="sgd", loss="mse")
    data = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    np.testing.assert_allclose(sparse.evaluate(x, y, verbose=0), data + sparse.penalty_value(), rtol=1e-4)
    assert sparse.penalty_value() > 0


def test_training_with_group_lasso_and_threshold_removes_whole_components():
    model = stacked_lstm_model(sizes=(6, 5))
    sparse = sparsify(model, group_lasso=0.02, zero_threshold=1e-2)
    sparse.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    x = np.random.normal(size=(16, 7, 6)).astype("float32")
    y = 0.1 * np.random.normal(size=(16, 7, 3)).astype("float32")
    before = sparse.penalty_value()
    sparse.fit(x, y, epochs=40, batch_size=8, verbose=0)
    assert sparse.penalty_value() < 0.5 * before
    live = sparsity_stats(sparse, sparse.iss_groups)["groups"]
    assert sum(g["live"] for g in live.values()) < 11


def test_penalty_binding_rejects_unknown_variables_and_bad_slices():
    import pytest

    from common.groups import GroupSlice, ISSGroup

    model = stacked_lstm_model(sizes=(5, 4))
    with pytest.raises(KeyError, match="unknown variable 'nope/kernel'"):
        SparsityPenalty([L1(["nope/kernel"], 0.1)]).bind(model)
    bad = ISSGroup("g", (GroupSlice("lstm0/lstm_cell/recurrent_kernel", 1, 0, 9),))
    with pytest.raises(ValueError, match="out of range"):
        SparsityPenalty([StructureGroupLasso([bad], 0.1)]).bind(model)


@pytest.mark.parametrize("make, message", [
    (lambda m: sparsify(m, group_lasso=-0.01), "group Lasso strength must be in \\[0, inf\\), got -0.01"),
    (lambda m: sparsify(m, group_lasso=float("nan")), "group Lasso strength must be a finite number"),
    (lambda m: sparsify(m, group_lasso=0.01, zero_threshold=-1e-3), "zero threshold must be in \\[0, inf\\)"),
    (lambda m: L1([m.trainable_weights[0].path], -1e-4), "L1 strength must be in"),
    (lambda m: DimensionGroupLasso([m.trainable_weights[0].path], -1.0), "row/column group Lasso strength must be in"),
    (lambda m: dataclasses.replace(derive_iss_groups(m)[0], multiplier=-1.0), "multiplier must be in \\[0, inf\\)"),
])
def test_a_negative_or_nan_strength_is_refused_rather_than_rewarding_large_weights(make, message):
    with pytest.raises(ConfigError, match=message):
        make(stacked_lstm_model(sizes=(5, 4)))


def test_group_lasso_on_a_model_without_an_lstm_is_refused_rather_than_left_out():
    inputs = keras.Input((5, 3))
    gru = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GRU(4, return_sequences=True, name="gru")(inputs)))
    with pytest.raises(ValueError, match="has no LSTM to form ISS groups from \\(it has GRU 'gru'"):
        sparsify(gru, group_lasso=0.01)
    assert sparsify(gru, l1=0.01).penalty.terms  # L1 needs no groups
