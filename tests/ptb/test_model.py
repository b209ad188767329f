import dataclasses

import keras
import numpy as np
import pytest

from common.lm import copy_trainable_weights
from common.loop import reset_rnn_states
from ptb.config import PRESETS
from ptb.model import TASK, build_language_model, build_training_model, sequence_cross_entropy
from tests.helpers import shared_initial_values

CONFIG = dataclasses.replace(PRESETS["test"], keep_prob=1.0)


def test_loss_is_summed_over_steps_and_averaged_over_the_batch():
    y = np.array([[1, 2, 0], [0, 1, 1]])
    logits = np.random.normal(size=(2, 3, 4)).astype("float32")
    per_token = keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    got = keras.ops.convert_to_numpy(sequence_cross_entropy(y, logits))
    np.testing.assert_allclose(got, per_token.sum(axis=1), rtol=1e-5)


def test_state_is_carried_from_window_to_window():
    """Two windows through the stateful model == one long window through a fresh model (both backends)."""
    config = dataclasses.replace(CONFIG, init_scale=0.8)  # large weights: the state visibly matters
    model = build_language_model(config, 12, batch_size=2, num_steps=3, seed=1)
    long = build_language_model(config, 12, batch_size=2, num_steps=6, seed=1)
    copy_trainable_weights(model, long)
    tokens = np.random.randint(0, 12, size=(2, 6)).astype("int32")
    windows = np.concatenate([tokens[:, :3], tokens[:, 3:]])  # window-major, as batch_windows lays them out
    reset_rnn_states(model)
    out = model.predict(windows, batch_size=2, verbose=0)
    reset_rnn_states(long)
    both = long.predict(tokens, batch_size=2, verbose=0)
    np.testing.assert_allclose(np.concatenate([out[:2], out[2:]], axis=1), both, atol=1e-5)
    reset_rnn_states(model)
    alone = model.predict(windows[2:], batch_size=2, verbose=0)
    assert not np.allclose(alone, out[2:], atol=1e-3)  # without the carried state the output differs


def test_fit_updates_the_carried_state():
    model = build_language_model(CONFIG, 12, batch_size=2, num_steps=3, seed=1)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=sequence_cross_entropy)
    x = np.random.randint(0, 12, size=(4, 3)).astype("int32")
    reset_rnn_states(model)
    model.fit(x, x, batch_size=2, epochs=1, shuffle=False, verbose=0)
    state = model.get_layer("lstm_0").states[0].numpy()
    assert state.shape == (2, 16) and np.abs(state).max() > 1e-3
    reset_rnn_states(model)
    assert np.abs(model.get_layer("lstm_0").states[0].numpy()).max() == 0


def test_batch_one_perplexity_does_not_depend_on_window_length():
    model = build_language_model(CONFIG, 12, batch_size=4, num_steps=5, seed=2)
    ids = np.random.randint(0, 12, size=103).astype("int32")
    one_step = TASK.evaluator(CONFIG, 12, 1, 1).perplexity(model, ids)
    seven = TASK.evaluator(CONFIG, 12, 1, 7).perplexity(model, ids)
    np.testing.assert_allclose(seven, one_step, rtol=1e-5)
    # direct numpy check of the one-step value over the whole stream
    ev = TASK.evaluator(CONFIG, 12, 1, 103 - 1)
    copy_trainable_weights(model, ev.model)
    reset_rnn_states(ev.model)
    logits = ev.model.predict_on_batch(ids[None, :-1])[0]
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) - logits.max(1, keepdims=True)
    expected = np.exp(-logp[np.arange(len(ids) - 1), ids[1:]].mean())
    np.testing.assert_allclose(one_step, expected, rtol=1e-4)


def test_training_model_penalty_uses_the_config_multipliers():
    config = dataclasses.replace(CONFIG, group_lasso=0.01, group_lasso_multipliers=(2.0, 0.0))
    model, groups = build_training_model(config, 12, seed=0)
    assert [g.multiplier for g in groups] == [2.0, 0.0]
    assert [g.slices[-1].variable for g in groups] == ["lstm_1/lstm_cell/kernel", "softmax/kernel"]
    assert model.penalty_value() > 0


def test_copy_between_different_architectures_is_a_clear_error():
    a = build_language_model(CONFIG, 12, 2, 3)
    b = build_language_model(dataclasses.replace(CONFIG, hidden_sizes=(3, 8)), 12, 2, 3)
    with pytest.raises(ValueError, match="do not fit"):
        copy_trainable_weights(a, b)


def test_bayesian_runs_with_other_noise_variables_are_told_apart_where_their_weights_files_are_not(tmp_path):
    """A log sigma^2 model's weights load into a log sigma model without complaint (same shapes, same order),
    which would read each log sigma^2 as a log sigma; the architecture, which restoring checks, differs."""
    ours = dataclasses.replace(CONFIG, kl_weight=1e-3, bayes_layers="all")
    theirs = dataclasses.replace(ours, bayes_sigma_variable="log_sigma")
    path = str(tmp_path / "ours.weights.h5")
    build_language_model(ours, 12, 2, 3, seed=0).save_weights(path)
    build_language_model(theirs, 12, 2, 3, seed=0).load_weights(path)  # no error: the hazard
    assert TASK.architecture(ours) != TASK.architecture(theirs)
    assert TASK.architecture(ours).endswith("Bayesian with log_sigma2 variables")
    assert "Bayesian" not in TASK.architecture(CONFIG)


def _remove(layer, name, indices):
    """Make these entries of a Bayesian group variable pure noise (log alpha > 3): removed at evaluation."""
    log_sigma2 = getattr(layer, name + "_log_sigma2")
    values = log_sigma2.numpy()
    values[list(indices)] = 5.0
    log_sigma2.assign(values)


@pytest.mark.parametrize("bayes_layers, hidden_scaling", [("lstm", "recurrence"), ("all", "recurrence"), ("all", "output")])
def test_bayesian_model_extracts_to_a_smaller_stock_lstm_with_the_same_outputs(bayes_layers, hidden_scaling):
    """hidden_scaling="output": a removed hidden neuron leaves the model with no help from its readers."""
    from common.extraction import assign_by_path, compact_weights
    from ptb.model import compact_config, extraction_plan, structure

    config = dataclasses.replace(PRESETS["test"], kl_weight=1e-3, bayes_layers=bayes_layers,
                                 bayes_hidden_scaling=hidden_scaling)
    model = build_language_model(config, 13, 2, 5, seed=3)
    rng = np.random.default_rng(0)
    if bayes_layers == "all":  # noisy entries of the embedding and softmax are zeros of the stock layers
        for layer, name in (("embedding", "embeddings"), ("softmax", "kernel")):
            log_sigma2 = getattr(model.get_layer(layer), name + "_log_sigma2")
            log_sigma2.assign(np.where(rng.random(log_sigma2.shape) < 0.3, 5.0, log_sigma2.numpy()))
    lstm_0, lstm_1 = model.get_layer("lstm_0"), model.get_layer("lstm_1")
    for layer in (lstm_0, lstm_1):
        for name in ("input_neurons", "hidden_neurons", "gate_preactivations"):
            getattr(layer, name).assign(rng.uniform(0.5, 1.5, getattr(layer, name).shape))
        layer.bias.assign(rng.normal(size=layer.bias.shape))
    _remove(lstm_0, "input_neurons", [2])  # embedding dimension 2 is read by nobody
    _remove(lstm_0, "hidden_neurons", [1, 3])  # units 1, 3 of lstm_0: no recurrent reader ...
    _remove(lstm_0, "gate_preactivations", [16 + 7, 48 + 7])  # forget and output gate of unit 7: constant
    _remove(lstm_1, "hidden_neurons", [5])  # unit 5 of lstm_1: no recurrent reader ...
    if hidden_scaling == "recurrence":  # ... their outputs still feed the next layer unless it drops them
        _remove(lstm_1, "input_neurons", [1, 3])  # lstm_1 does not read units 1, 3
        softmax = model.get_layer("softmax").kernel
        softmax.assign(np.where(np.arange(16)[:, None] == 5, 0.0, softmax.numpy()))  # nor the softmax unit 5
    report = structure(model, config)
    assert set(report) == {"lstm_0", "lstm_1", "model"} | ({"embedding", "softmax"} if bayes_layers == "all" else set())
    if bayes_layers == "all":
        assert 0.6 * 13 * 16 < report["embedding"]["weights"] < 0.8 * 13 * 16
    assert report["model"]["weights_total"] == 13 * 16 + 2 * (16 * 64 * 2 + 64) + 16 * 13 + 13

    values, groups, kept = extraction_plan(model, config)
    widths = [len(kept[g.name]) for g in groups]
    assert widths == [14, 15, 15] and 1 not in kept["lstm_0"] and 7 in kept["lstm_0"]
    compact = build_language_model(compact_config(config, widths), 13, 2, 5, name="compact")
    assign_by_path(compact, compact_weights(values, groups, kept))
    assert compact.get_layer("lstm_0").__class__.__name__ == "LSTM"  # the stock layer (cuDNN path)
    # extraction drops only all-zero slices: the compact model has the evaluation model's non-zeros
    assert report["model"]["weights"] == sum(np.count_nonzero(v.numpy()) for v in compact.trainable_weights)

    tokens = rng.integers(0, 13, size=(3, 2, 5)).astype("int32")
    for window in tokens:  # the carried state included
        np.testing.assert_allclose(keras.ops.convert_to_numpy(compact(window)), keras.ops.convert_to_numpy(model(window)),
                                   atol=1e-5)


def test_bayesian_layer_pruned_to_nothing_is_reported_and_refused_by_extraction():
    """The per-epoch structure report counts a first LSTM that reads no embedding dimension (it once stopped training
    with an error); extraction, which cannot build a layer of width 0, names the layer."""
    from ptb.model import extraction_plan, structure

    config = dataclasses.replace(PRESETS["test"], kl_weight=1e-3, bayes_layers="lstm")
    model = build_language_model(config, 13, 2, 5, seed=3)
    _remove(model.get_layer("lstm_0"), "input_neurons", range(16))  # every embedding dimension: read by nobody
    report = structure(model, config)
    assert report["lstm_0"]["input_neurons"] == 0
    unread = 13 * 16 + 16 * 64  # the embedding and the first LSTM's input kernel: nothing of them is left to count
    assert 0 < report["model"]["weights"] <= report["model"]["weights_total"] - unread
    with pytest.raises(ValueError, match="no output of 'embedding' is read any more"):
        extraction_plan(model, config)


def test_one_hot_input_model_reads_words_without_an_embedding_and_extracts_to_the_same_outputs():
    """one_hot_input (Lobacheva et al.'s model): a [V, 4H] input kernel, counted in the weights; extraction keeps every word."""
    from common.extraction import assign_by_path, compact_weights
    from ptb.model import compact_config, extraction_plan, structure

    config = dataclasses.replace(PRESETS["test"], one_hot_input=True, kl_weight=1e-3, bayes_layers="all")
    model = build_language_model(config, 13, 2, 5, seed=3)
    assert [layer.name for layer in model.layers] == ["tokens", "lstm_0", "lstm_1", "softmax"]
    assert model.get_layer("lstm_0").kernel.shape == (13, 64)
    rng = np.random.default_rng(1)
    lstm_0 = model.get_layer("lstm_0")
    for name in ("hidden_neurons", "gate_preactivations"):
        getattr(lstm_0, name).assign(rng.uniform(0.5, 1.5, getattr(lstm_0, name).shape))
    _remove(lstm_0, "hidden_neurons", [4])
    _remove(model.get_layer("lstm_1"), "input_neurons", [4])  # unit 4 of lstm_0: read by nobody
    report = structure(model, config)
    dense_weights = 13 * 64 + (16 * 64 + 64) + (2 * 16 * 64 + 64) + 16 * 13 + 13  # no embedding: one-hot words
    assert report["model"]["weights_total"] == dense_weights and report["lstm_0"]["input_neurons"] == 13

    values, groups, kept = extraction_plan(model, config)
    widths = [len(kept[g.name]) for g in groups]
    assert widths == [15, 16]  # no embedding group
    compact = build_language_model(compact_config(config, widths), 13, 2, 5, name="compact")
    assert [layer.name for layer in compact.layers] == ["tokens", "one_hot", "lstm_0", "lstm_1", "softmax"]
    assert compact.get_layer("lstm_0").__class__.__name__ == "LSTM"  # the stock layer, reading the one-hot vectors
    assign_by_path(compact, compact_weights(values, groups, kept))
    tokens = rng.integers(0, 13, size=(3, 2, 5)).astype("int32")
    for window in tokens:  # the carried state included
        np.testing.assert_allclose(keras.ops.convert_to_numpy(compact(window)), keras.ops.convert_to_numpy(model(window)),
                                   atol=1e-5)
    dense = build_language_model(dataclasses.replace(config, kl_weight=0.0, keep_prob=0.5), 13, 2, 5, seed=3)
    assert sum(int(np.prod(v.shape)) for v in dense.trainable_weights) == dense_weights
    assert [layer.name for layer in dense.layers][:3] == ["tokens", "one_hot", "lstm_0"]  # no input dropout either


@pytest.mark.parametrize("kl_weight, bayes_init", [(0.0, "uniform"), (1e-3, "uniform"), (1e-3, "lobacheva")])
def test_every_weight_starts_from_its_own_draw_reproducibly(kl_weight, bayes_init):
    """Same-shaped kernels (and the [V, D] embedding and [D, V] softmax) must not share their initial numbers."""
    config = dataclasses.replace(PRESETS["test"], hidden_size=8, kl_weight=kl_weight, bayes_layers="all",
                                 bayes_init=bayes_init)  # embedding width = LSTM width
    model = build_language_model(config, 13, 2, 5, seed=3)
    assert shared_initial_values(model) == []
    again = build_language_model(config, 13, 2, 5, seed=3)
    for a, b in zip(model.trainable_weights, again.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_lobacheva_initialization_of_the_bayesian_model():
    """--bayes_init=lobacheva: orthogonal gate blocks and softmax, forget bias 1, log sigma^2 -6 everywhere."""
    config = dataclasses.replace(PRESETS["test"], hidden_size=8, num_layers=1, kl_weight=1e-3, bayes_layers="all",
                                 bayes_init="lobacheva")
    model = build_language_model(config, 13, 2, 5, seed=3)
    lstm, softmax = model.get_layer("lstm_0"), model.get_layer("softmax")
    for block in np.split(lstm.recurrent_kernel.numpy(), 4, axis=1):
        np.testing.assert_allclose(block.T @ block, np.eye(8), atol=1e-5)
    kernel = softmax.kernel.numpy()  # [8, 13]: orthonormal rows
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(softmax.bias.numpy(), np.zeros(13))
    np.testing.assert_array_equal(lstm.bias.numpy(), np.repeat([0.0, 1.0, 0.0, 0.0], 8))
    log_sigma2 = [v for v in model.trainable_weights if v.path.endswith("_log_sigma2")]
    assert len(log_sigma2) == 2 + 5 and all(np.all(v.numpy() == -6.0) for v in log_sigma2)  # W+N+G: 5 in the LSTM
    with pytest.raises(ValueError, match="bayes_init='xavier'"):
        build_language_model(dataclasses.replace(config, bayes_init="xavier"), 13, 2, 5)
