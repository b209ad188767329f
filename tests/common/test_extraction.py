import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from common.extraction import count_weights, extract_compact_model
from common.groups import derive_iss_groups
from common.training import sparsify
from tests.helpers import ROOT, bidirectional_model, stacked_lstm_model, zero_components


def _randomize(model, rng):
    for v in model.weights:
        v.assign(rng.normal(scale=0.5, size=v.shape).astype("float32"))


def _check_equivalent(model, removed, expected_sizes, x):
    groups = derive_iss_groups(model)
    for g in groups:
        zero_components(model, g, removed.get(g.name, []))
    compact, report = extract_compact_model(model, groups)
    sizes = {name: len(r["kept"]) for name, r in report.items()}
    assert sizes == expected_sizes
    np.testing.assert_allclose(compact.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    return compact


@pytest.mark.parametrize(
    "removed, sizes",
    [
        ({}, {"lstm0": 5, "lstm1": 4}),
        ({"lstm0": [0, 2, 3], "lstm1": [1]}, {"lstm0": 2, "lstm1": 3}),
        ({"lstm0": [0, 1, 2, 3], "lstm1": [0, 1, 3]}, {"lstm0": 1, "lstm1": 1}),
    ],
)
def test_stacked_lstm_to_dense(removed, sizes):
    rng = np.random.default_rng(0)
    model = stacked_lstm_model(sizes=(5, 4))
    _randomize(model, rng)
    x = rng.normal(size=(3, 7, 6)).astype("float32")
    compact = _check_equivalent(model, removed, sizes, x)
    assert compact.get_layer("lstm0").units == sizes["lstm0"]
    assert count_weights(compact) < count_weights(model) or not removed


@pytest.mark.parametrize(
    "removed, sizes",
    [
        ({}, {"bi0/forward": 5, "bi0/backward": 5, "bi1/forward": 4, "bi1/backward": 4}),
        ({"bi0/forward": [1, 4], "bi0/backward": [0, 1, 2, 3], "bi1/backward": [2]},
         {"bi0/forward": 3, "bi0/backward": 1, "bi1/forward": 4, "bi1/backward": 3}),
    ],
)
def test_bidirectional_stack(removed, sizes):
    rng = np.random.default_rng(1)
    model = bidirectional_model(sizes=(5, 4))
    _randomize(model, rng)
    x = rng.normal(size=(3, 7, 6)).astype("float32")
    compact = _check_equivalent(model, removed, sizes, x)
    assert compact.get_layer("bi0").backward_layer.units == sizes["bi0/backward"]


def test_embedding_stateful_language_model():
    """The PTB shape: embedding -> stateful LSTMs -> softmax Dense, fixed batch."""
    rng = np.random.default_rng(2)
    inp = keras.Input(batch_shape=(2, 5), dtype="int32")
    x = keras.layers.Embedding(11, 6, name="emb")(inp)
    x = keras.layers.LSTM(5, return_sequences=True, stateful=True, name="lstm0")(x)
    x = keras.layers.LSTM(4, return_sequences=True, stateful=True, name="lstm1")(x)
    model = keras.Model(inp, keras.layers.Dense(11, name="softmax")(x))
    _randomize(model, rng)
    x = rng.integers(0, 11, size=(2, 5)).astype("int32")
    _check_equivalent(model, {"lstm0": [4], "lstm1": [0, 3]}, {"lstm0": 4, "lstm1": 2}, x)


def test_time_distributed_dense_behind_dropout_keeps_its_variable_paths():
    """A wrapped consumer: the compact copy must build its Dense inside TimeDistributed, as the original did."""
    rng = np.random.default_rng(3)
    inp = keras.Input((7, 6))
    x = keras.layers.LSTM(5, return_sequences=True, name="lstm0")(inp)
    x = keras.layers.Dropout(0.3)(x)
    model = keras.Model(inp, keras.layers.TimeDistributed(keras.layers.Dense(3), name="td")(x))
    _randomize(model, rng)
    x = rng.normal(size=(3, 7, 6)).astype("float32")
    compact = _check_equivalent(model, {"lstm0": [1, 3]}, {"lstm0": 3}, x)
    assert compact.get_layer("td").layer.kernel.path == model.get_layer("td").layer.kernel.path
    assert compact.get_layer("td").layer.kernel.shape == (3, 3)


def test_sequential_model_whose_weights_live_under_its_name_scope():
    """Sequential builds 'seq/lstm0/...'; the clone of its sparsify() wrapper builds 'lstm0/...': matched layer by layer."""
    rng = np.random.default_rng(4)
    model = keras.Sequential([keras.Input((7, 6)), keras.layers.LSTM(5, return_sequences=True, name="lstm0"),
                              keras.layers.Bidirectional(keras.layers.LSTM(4), name="bi"),
                              keras.layers.Dense(3, name="out")], name="seq")
    assert model.get_layer("lstm0").cell.kernel.path.startswith("seq/")
    _randomize(model, rng)
    x = rng.normal(size=(3, 7, 6)).astype("float32")
    compact = _check_equivalent(sparsify(model, group_lasso=0.01), {"lstm0": [0], "bi/backward": [1, 2]},
                                {"lstm0": 4, "bi/forward": 4, "bi/backward": 2}, x)
    assert compact.get_layer("out").kernel.shape == (6, 3)


def test_compact_model_of_a_sparsified_model_is_a_plain_model_that_saves_and_loads(tmp_path):
    """What a user deploys: no SparseModel class (a .keras file would not load without it), same input structure."""
    rng = np.random.default_rng(5)
    sparse = sparsify(stacked_lstm_model(sizes=(5, 4)), group_lasso=0.01)
    _randomize(sparse, rng)
    x = rng.normal(size=(3, 7, 6)).astype("float32")
    compact = _check_equivalent(sparse, {"lstm0": [2]}, {"lstm0": 4, "lstm1": 4}, x)
    assert type(compact) is type(keras.Model(compact.input, compact.output))
    compact.save(tmp_path / "compact.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "The structure of `inputs` doesn't match": a one-input model fed one array
        loaded = keras.models.load_model(tmp_path / "compact.keras")
        np.testing.assert_allclose(loaded.predict(x, verbose=0), sparse.predict(x, verbose=0), atol=1e-5)


def test_a_compact_model_with_uneven_directions_loads_in_a_fresh_process_through_common_load_model(tmp_path):
    """`import common` imports no layer module (it loads lazily); common.load_model registers them first."""
    rng = np.random.default_rng(8)
    sparse = sparsify(bidirectional_model(sizes=(5, 4)), group_lasso=0.01)
    _randomize(sparse, rng)
    groups = {g.name: g for g in sparse.iss_groups}
    zero_components(sparse, groups["bi1/backward"], [0, 3])
    compact, _ = extract_compact_model(sparse, sparse.iss_groups)
    assert type(compact.get_layer("bi1")).__name__ == "UnevenBidirectional"
    x = rng.normal(size=(2, 7, 6)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    compact.save(tmp_path / "compact.keras")
    script = ("import sys, numpy as np, common; assert 'common.extraction' not in sys.modules; "
              f"m = common.load_model({str(tmp_path / 'compact.keras')!r}); "
              f"np.save({str(tmp_path / 'y.npy')!r}, m.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), sparse.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("pooling", [keras.layers.GlobalMaxPooling1D, keras.layers.GlobalAveragePooling1D,
                                     lambda: keras.layers.MaxPooling1D(2)])
def test_pooling_over_time_between_the_lstm_and_its_reader(pooling):
    """A classifier's LSTM -> pooling -> Dense: pooling keeps feature k in place, so Dense row k is unit k's."""
    rng = np.random.default_rng(6)
    inp = keras.Input((7, 6))
    x = keras.layers.LSTM(5, return_sequences=True, name="lstm0")(inp)
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(pooling()(x)))
    _randomize(model, rng)
    x = rng.normal(size=(3, 7, 6)).astype("float32")
    compact = _check_equivalent(model, {"lstm0": [0, 3]}, {"lstm0": 3}, x)
    assert compact.get_layer("out").kernel.shape == (3, 2)


def test_all_components_removed_is_a_clear_error():
    model = stacked_lstm_model(sizes=(3, 2))
    groups = derive_iss_groups(model)
    zero_components(model, groups[1], [0, 1])
    with pytest.raises(ValueError, match="every component of 'lstm1' is zero"):
        extract_compact_model(model, groups)
