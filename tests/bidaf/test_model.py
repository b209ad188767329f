"""BiDAF: masking, ISS groups of every bi-LSTM direction, compact model == sparse model (both backends)."""

import dataclasses

import keras
import numpy as np
import pytest

import common
from bidaf.config import LSTM_LAYERS, PRESETS
from bidaf.model import build_model, compact_config, iss_groups
from common.experiment import compact_values
from common.extraction import assign_by_path

CONFIG = dataclasses.replace(PRESETS["test"], hidden_size=5)
EMB = np.random.default_rng(0).normal(size=(30, 6)).astype("float32")
CHARS, WORD_LEN = 20, 7


def _inputs(batch=3, lc=12, lq=5, seed=0):
    rng = np.random.default_rng(seed)
    x = {"context_words": rng.integers(1, 30, (batch, lc)), "context_chars": rng.integers(1, CHARS, (batch, lc, WORD_LEN)),
         "question_words": rng.integers(1, 30, (batch, lq)), "question_chars": rng.integers(1, CHARS, (batch, lq, WORD_LEN))}
    x["context_words"][0, 8:] = 0  # padded rows of different lengths
    x["context_chars"][0, 8:] = 0
    x["question_words"][1, 3:] = 0
    x["question_chars"][1, 3:] = 0
    return {k: v.astype("int32") for k, v in x.items()}


def _predict(model, x):
    out = model.predict_on_batch(x)
    out = out if isinstance(out, dict) else dict(zip(model.output_names, out))
    return np.asarray(out["start"]), np.asarray(out["end"])


def test_padding_changes_nothing_and_gets_no_probability():
    model = build_model(CONFIG, EMB, CHARS, WORD_LEN)
    x = _inputs()
    start, end = _predict(model, x)
    assert (start[0, 8:] < -1e29).all() and (end[0, 8:] < -1e29).all()
    longer = {k: np.concatenate([v, np.zeros_like(v[:, :4])], axis=1) if k.startswith("context") else v for k, v in x.items()}
    start2, end2 = _predict(model, longer)
    np.testing.assert_allclose(start2[:, :12], start, atol=1e-4)
    np.testing.assert_allclose(end2[:, :12], end, atol=1e-4)


def test_one_group_per_direction_with_every_consumer():
    model = build_model(CONFIG, EMB, CHARS, WORD_LEN)
    groups = iss_groups(model, CONFIG)
    assert [g.name for g in groups] == [f"{layer}/{d}" for layer in LSTM_LAYERS for d in ("forward", "backward")]
    ctx = groups[0]
    consumers = {(s.variable, s.start) for s in ctx.slices if s.role == "consumer_rows"}
    d = 2 * CONFIG.hidden_size
    assert {("attention/w_context", 0), ("attention/w_question", 0), ("attention/w_product", 0)} <= consumers
    assert {("start/kernel", block * d) for block in range(4)} <= consumers  # G = [H; U~; H*U~; H*h~]
    backward = {(s.variable, s.start) for s in groups[1].slices if s.role == "consumer_rows"}
    assert ("end/kernel", 3 * d + CONFIG.hidden_size) in backward  # [forward | backward] in every block
    common.validate_groups(model, groups)


def test_compact_bidaf_gives_the_sparse_models_outputs():
    model = build_model(CONFIG, EMB, CHARS, WORD_LEN)
    groups = iss_groups(model, CONFIG)
    values = common.stats.model_values(model)
    dead = {0: [1, 3], 1: [0], 2: [4], 5: [0, 1, 2], 7: [2]}  # group index -> units removed
    for gi, units in dead.items():
        for s in groups[gi].slices:
            idx = [s.start + k for k in units]
            if s.axis == 0:
                values[s.variable][:, idx] = 0
            else:
                values[s.variable][idx, :] = 0
    assign_by_path(model, values)
    widths, compact_values_, _ = compact_values(model, groups)
    assert widths == [3, 4, 4, 5, 5, 2, 5, 4]
    small = compact_config(CONFIG, widths)
    compact = build_model(small, EMB, CHARS, WORD_LEN)
    assign_by_path(compact, compact_values_)
    assert common.count_weights(compact) < common.count_weights(model)
    x = _inputs(seed=3)
    for a, b in zip(_predict(model, x), _predict(compact, x)):
        np.testing.assert_allclose(b, a, atol=1e-4)


def test_trains_a_step_on_this_backend():
    model = build_model(CONFIG, EMB, CHARS, WORD_LEN)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss={"start": loss, "end": loss})
    x = _inputs()
    y = {"start": np.array([1, 2, 3], "int32"), "end": np.array([2, 2, 5], "int32")}
    first = model.train_on_batch(x, y, return_dict=True)["loss"]
    for _ in range(20):
        last = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert np.isfinite(last) and last < first


def test_a_batch_padded_for_several_devices_has_the_same_mean_loss():
    from bidaf.data import padded_to_multiple

    indices, weights = padded_to_multiple(np.array([3, 5, 7]), 2)
    assert indices.tolist() == [3, 5, 7, 3] and weights[3] == 0
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 6)).astype("float32")
    labels = np.array([1, 4, 0, 1])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    padded = float(keras.ops.convert_to_numpy(loss(labels, logits, sample_weight=weights)))
    plain = float(keras.ops.convert_to_numpy(loss(labels[:3], logits[:3])))
    assert padded == pytest.approx(plain, rel=1e-6)
    assert padded_to_multiple(np.array([1, 2]), 2)[1].tolist() == [1.0, 1.0]  # nothing to pad
