"""The RHN layer, its ISS groups and extraction, checked against numpy (both backends)."""

import dataclasses

import keras
import numpy as np
import pytest

import common
from common.experiment import compact_values
from common.extraction import assign_by_path
from common.group_json import load_groups, save_groups, validate_groups
from common.loop import reset_rnn_states
from rhns.config import PRESETS
from rhns.model import TASK, build_language_model, iss_groups
from tests.helpers import component_elements, shared_initial_values

CONFIG = dataclasses.replace(PRESETS["test"], hidden_size=6, depth=3, init_scale=0.5)
V = 11


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_rhn_step(x, s, depths, w, mask=1.0):
    """One time step of the coupled-gate RHN, written out from Zilly et al.'s equations."""
    for level, d in enumerate(depths):
        pre = (s * mask) @ d["recurrent_kernel"] + d["bias"]
        if level == 0:
            pre = pre + x @ d["kernel"]
        h, t = np.tanh(pre[:, :w]), _sigmoid(pre[:, w:])
        s = h * t + s * (1 - t)
    return s


def _depth_values(layer):
    return [{k: v.numpy() for k, v in (("kernel", getattr(d, "kernel", None)),
                                       ("recurrent_kernel", d.recurrent_kernel), ("bias", d.bias)) if v is not None}
            for d in layer.depths]


def test_one_step_matches_numpy_and_the_state_is_carried():
    w, batch = 5, 3
    layer = common.RecurrentHighway(w, 3, transform_bias=-1.0, kernel_initializer=keras.initializers.RandomUniform(-0.8, 0.8, seed=1),
                                    stateful=True)
    x = np.random.default_rng(0).normal(size=(batch, 2, 4)).astype("float32")
    layer.build((batch, 2, 4))
    assert np.allclose(layer.depths[1].bias.numpy(), [0] * w + [-1.0] * w)  # H bias 0, T bias transform_bias
    out = keras.ops.convert_to_numpy(layer(x))
    depths = _depth_values(layer)
    s1 = numpy_rhn_step(x[:, 0], np.zeros((batch, w), "float32"), depths, w)
    s2 = numpy_rhn_step(x[:, 1], s1, depths, w)
    np.testing.assert_allclose(out[:, 0], s1, atol=1e-5)
    np.testing.assert_allclose(out[:, 1], s2, atol=1e-5)
    np.testing.assert_allclose(layer.states[0].numpy(), s2, atol=1e-5)  # carried into the next call
    again = keras.ops.convert_to_numpy(layer(x[:, :1]))
    np.testing.assert_allclose(again[:, 0], numpy_rhn_step(x[:, 0], s2, depths, w), atol=1e-5)


def test_word_dropout_drops_every_occurrence_of_a_word_in_a_sequence():
    emb = common.TiedEmbedding(4, 8, word_dropout=0.5, embeddings_initializer="ones", seed=3)
    tokens = np.array([[0, 1, 2, 3, 0, 1, 2, 3]] * 32, dtype="int32")
    x = keras.ops.convert_to_numpy(emb(tokens, training=True))
    kept = x[..., 0]  # 0 (dropped) or 2 (kept, scaled by 1 / keep)
    assert set(np.unique(kept)) == {0.0, 2.0}
    np.testing.assert_array_equal(kept[:, :4], kept[:, 4:])  # the same word: the same decision
    assert 0.3 < (kept == 0).mean() < 0.7
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(emb(tokens)), np.ones((32, 8, 8)))  # inference: no drop


def test_state_dropout_uses_one_mask_per_sequence_for_every_step_and_depth():
    """Each sequence's outputs are reproduced by numpy with a single mask over its steps and depths."""
    import itertools

    w, batch, steps = 4, 16, 3
    layer = common.RecurrentHighway(w, 2, state_dropout=0.5, kernel_initializer=keras.initializers.RandomUniform(-1, 1, seed=2),
                                    seed=0)
    x = np.random.default_rng(1).normal(size=(batch, steps, w)).astype("float32")
    layer.build(x.shape)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    depths = _depth_values(layer)
    masks = [np.array(m, "float32") for m in itertools.product([0.0, 2.0], repeat=w)]
    used = set()
    for b in range(batch):
        def run(mask):
            s, seq = np.zeros((1, w), "float32"), []
            for t in range(steps):
                s = numpy_rhn_step(x[b : b + 1, t], s, depths, w, mask)
                seq.append(s[0])
            return np.array(seq)

        fits = [tuple(m) for m in masks if np.allclose(run(m), out[b], atol=1e-5)]
        assert len(fits) == 1, f"sequence {b}: {len(fits)} single masks reproduce it"
        used.add(fits[0])
    assert len(used) > 1  # and the masks differ between sequences


def _membership(shapes, w):
    """For every weight element, the set of units that touch it (written from the model's maths)."""
    expected = {}
    for path, shape in shapes.items():
        if path == "embedding/embeddings":
            expected[path] = lambda i, j: {j}
        elif path.endswith("kernel"):
            expected[path] = lambda i, j: {i, j % w}
        else:  # biases, output bias
            expected[path] = lambda *idx: set()
    return expected


def test_every_weight_touched_by_unit_k_is_in_group_k_and_no_other():
    model = build_language_model(CONFIG, V, 2, 3)
    (group,) = iss_groups(model)
    w = CONFIG.hidden_size
    shapes = {v.path: tuple(v.shape) for v in model.trainable_weights}
    expected = _membership(shapes, w)
    found = {}
    for k in range(w):
        for path, i, j in component_elements(group, k, {p: s for p, s in shapes.items() if len(s) == 2}):
            found.setdefault((path, i, j), set()).add(k)
    for path, shape in shapes.items():
        if len(shape) == 1:
            assert not any(p == path for p, _, _ in found), f"{path} must not be in a group"
            continue
        for i in range(shape[0]):
            for j in range(shape[1]):
                assert found.get((path, i, j), set()) == expected[path](i, j), (path, i, j)


def test_group_norms_match_numpy():
    model = build_language_model(CONFIG, V, 2, 3, seed=4)
    (group,) = iss_groups(model)
    values = common.stats.model_values(model)
    w = CONFIG.hidden_size
    expected = np.zeros(w)
    for path, value in values.items():
        if value.ndim != 2 or "rnn_state" in path:
            continue
        for k in range(w):
            if path == "embedding/embeddings":
                expected[k] += (value[:, k] ** 2).sum()
            else:  # row k, columns k and w + k, each element once
                mask = np.zeros_like(value, dtype=bool)
                mask[k, :] = True
                mask[:, [k, w + k]] = True
                expected[k] += (value[mask] ** 2).sum()
    got = keras.ops.convert_to_numpy(common.component_norms(group, values))
    np.testing.assert_allclose(got, np.sqrt(expected), rtol=1e-5)


def _kill_units(model, group, units):
    values = common.stats.model_values(model)
    for s in group.slices:
        v = values[s.variable]
        idx = [s.start + k for k in units]
        if s.axis == 0:
            v[:, idx] = 0
        else:
            v[idx, :] = 0
    assign_by_path(model, values)


def test_compact_rhn_gives_the_sparse_models_outputs_over_carried_windows():
    model = build_language_model(CONFIG, V, 2, 3, seed=5)
    (group,) = iss_groups(model)
    _kill_units(model, group, [0, 3, 4])
    widths, values, kept = compact_values(model, [group])
    assert widths == [3] and kept["rhn"].tolist() == [1, 2, 5]
    compact = build_language_model(TASK.compact_config(CONFIG, widths), V, 2, 3)
    assign_by_path(compact, values)
    assert common.count_weights(compact) < common.count_weights(model)
    tokens = np.random.default_rng(1).integers(0, V, size=(6, 3)).astype("int32")  # three carried windows
    outs = []
    for m in (model, compact):
        reset_rnn_states(m)
        outs.append(m.predict(tokens, batch_size=2, verbose=0))
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-5)


def test_groups_round_trip_through_the_iss_rnns_json_format(tmp_path):
    model = build_language_model(CONFIG, V, 2, 3)
    groups = iss_groups(model)
    save_groups(groups, str(tmp_path / "rhn_groups.json"))
    loaded = load_groups(str(tmp_path / "rhn_groups.json"))
    assert [g.slices for g in loaded] == [g.slices for g in groups]
    validate_groups(model, loaded)


def test_tied_embedding_of_another_width_is_refused():
    tokens = keras.Input(batch_shape=(2, 3), dtype="int32")
    emb = common.TiedEmbedding(V, 8, name="embedding")
    rhn = common.RecurrentHighway(5, 2, name="rhn")
    emb(tokens)
    rhn(keras.ops.zeros((2, 3, 8)))
    with pytest.raises(ValueError, match="widths must be equal"):
        common.highway_iss_group(rhn, tied_embedding=emb)


def test_weight_count_of_the_830_wide_model_is_the_published_23_5m():
    model = build_language_model(PRESETS["ptb_sota"], 10000, 1, 1)
    assert common.count_weights(model) == 23_482_400  # Zilly et al.: 23.5M


def test_windows_carry_the_state_like_one_long_window():
    config = dataclasses.replace(CONFIG, init_scale=0.8)
    model = build_language_model(config, V, 2, 3, seed=1)
    long = build_language_model(config, V, 2, 6, seed=1)
    assign_by_path(long, common.stats.model_values(model))
    tokens = np.random.default_rng(2).integers(0, V, size=(2, 6)).astype("int32")
    windows = np.concatenate([tokens[:, :3], tokens[:, 3:]])
    reset_rnn_states(model)
    out = model.predict(windows, batch_size=2, verbose=0)
    reset_rnn_states(long)
    np.testing.assert_allclose(np.concatenate([out[:2], out[2:]], axis=1), long.predict(tokens, batch_size=2, verbose=0),
                               atol=1e-5)
    reset_rnn_states(model)
    assert not np.allclose(model.predict(windows[2:], batch_size=2, verbose=0), out[2:], atol=1e-3)


def test_fit_updates_the_carried_state():
    model = build_language_model(CONFIG, V, 2, 3, seed=1)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(3).integers(0, V, size=(4, 3)).astype("int32")
    reset_rnn_states(model)
    model.fit(x, x, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert np.abs(model.get_layer("rhn").states[0].numpy()).max() > 1e-3
    reset_rnn_states(model)
    assert np.abs(model.get_layer("rhn").states[0].numpy()).max() == 0


def test_every_depth_level_starts_from_its_own_draw_reproducibly():
    model = build_language_model(CONFIG, 11, 2, 4, seed=1)
    assert shared_initial_values(model) == []
    again = build_language_model(CONFIG, 11, 2, 4, seed=1)
    for a, b in zip(model.trainable_weights, again.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
