import glob
import json
import os

import pytest

from ptb.config import PRESETS, ConfigError, apply_config_file

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "ptb", "configs")


def test_presets_follow_the_reference_table():
    small, large, sparse = PRESETS["small"], PRESETS["large"], PRESETS["sparselarge"]
    assert (small.hidden_size, small.num_steps, small.max_max_epoch, small.keep_prob) == (200, 20, 13, 1.0)
    assert [small.learning_rate_at(e) for e in range(6)] == [1, 1, 1, 1, 0.5, 0.25]
    assert large.learning_rate_at(14) == pytest.approx(1 / 1.15) and large.learning_rate_at(13) == 1.0
    assert (sparse.learning_rate_at(17), sparse.learning_rate_at(18), sparse.learning_rate_at(36)) == (1.0, 0.1, pytest.approx(0.01))
    assert (sparse.keep_prob, sparse.max_grad_norm, sparse.init_scale) == (0.6, 10, 0.04)


def test_structure_group_lasso_file_sets_lambda_dropout_and_multipliers():
    config = apply_config_file(PRESETS["sparselarge"], os.path.join(CONFIGS, "structure_grouplasso.json"))
    assert (config.group_lasso, config.keep_prob, config.group_lasso_multipliers) == (0.00245, 0.6, (1.0, 1.0))


def test_reference_tf1_names_are_accepted(tmp_path):
    data = {"learning_rate": 0.5, "grouplasso": {
        "global_decay": 0.003,
        "Model/RNN/multi_rnn_cell/cell_0/basic_lstm_cell/weights": {"structure_decay_multi": 2.0, "coupled_layer": "x"},
    }}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    config = apply_config_file(PRESETS["small"], str(path))
    assert (config.learning_rate, config.group_lasso, config.group_lasso_multipliers) == (0.5, 0.003, (2.0, 0.0))


def test_every_shipped_config_parses():
    files = glob.glob(os.path.join(CONFIGS, "*.json"))
    assert len(files) >= 5
    for f in files:
        apply_config_file(PRESETS["large"], f)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{oops", "malformed JSON"),
        ('{"learning_rate": 1.0, "lr_decay": 0.5}', "unknown key\\(s\\) lr_decay"),
        ('{"learning_rate": "fast"}', "learning_rate must be a finite number"),
        ('{"learning_rate": NaN}', "learning_rate must be a finite number"),  # Python's json reads NaN
        ('{"learning_rate": -1.0}', "learning_rate must be in \\(0, inf\\), got -1.0"),
        ('{"weight_decay": -0.001}', "weight_decay must be in \\[0, inf\\)"),
        ('{"dropout_keep_prob": 1.5}', "dropout_keep_prob must be in"),
        ('{"grouplasso": {"global_decay": -0.1, "lstm_0": {"structure_decay_multi": 1}}}', "global_decay must be in"),
        ('{"grouplasso": {"global_decay": 0.1, "lstm_0": {"structure_decay_multi": -1}}}', "structure_decay_multi must"),
        ('{"grouplasso": {"global_decay": 0.1, "lstm_7": {"structure_decay_multi": 1}}}', "unknown layer 'lstm_7'"),
        ('{"grouplasso": {"lstm_0": {"structure_decay_multi": 1}}}', "global_decay"),
        ('{"grouplasso": {"global_decay": 0.1, "lstm_0": {"structure_decay_multi": 1, "row_decay_multi": 1}}}', "either"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        apply_config_file(PRESETS["small"], str(path))


def test_adam_epsilon_reaches_the_optimizer_and_old_run_configs_keep_keras_default():
    """Lobacheva et al.'s Lasagne Adam adds 1e-8 to sqrt(v) of the per-token loss: 1e-8 x num_steps on ours, which
    sums num_steps tokens. A run folder written before the field existed resumes with Keras' 1e-7, the value it
    trained with; a non-positive epsilon is refused."""
    import dataclasses

    from ptb.config import PTBConfig
    from ptb.model import make_optimizer

    adam = dataclasses.replace(PRESETS["small"], optimizer="adam")
    assert float(make_optimizer(adam).epsilon) == 1e-7
    assert float(make_optimizer(dataclasses.replace(adam, adam_epsilon=3.5e-7)).epsilon) == pytest.approx(3.5e-7)
    saved = adam.to_json()
    del saved["adam_epsilon"]
    assert PTBConfig.from_json(saved) == adam
    with pytest.raises(ConfigError, match="adam_epsilon must be in \\(0, inf\\)"):
        dataclasses.replace(adam, adam_epsilon=0.0)


def test_bayes_kl_fit_reaches_the_penalty_and_old_run_configs_keep_molchanovs():
    """A run folder written before the field existed resumes with the curve it trained with; an unknown one is refused."""
    import dataclasses

    from ptb.config import PTBConfig
    from ptb.model import build_language_model, sparsity_penalty

    bayes = dataclasses.replace(PRESETS["test"], kl_weight=0.001)
    model = build_language_model(bayes, 13, 2, 5, seed=0)
    for fit in ("molchanov", "lobacheva"):
        (term,) = sparsity_penalty(model, [], dataclasses.replace(bayes, bayes_kl_fit=fit)).terms
        assert term.fit == fit
    saved = bayes.to_json()
    del saved["bayes_kl_fit"]
    assert PTBConfig.from_json(saved) == bayes and bayes.bayes_kl_fit == "molchanov"
    with pytest.raises(ConfigError, match="bayes_kl_fit must be one of \\('molchanov', 'lobacheva'\\), got 'theirs'"):
        dataclasses.replace(bayes, bayes_kl_fit="theirs")
