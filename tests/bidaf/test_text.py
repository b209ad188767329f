"""Tokenizer offsets, answer-span mapping, the official metric, SQuAD file errors."""

import gzip
import json
import os

import numpy as np
import pytest

from bidaf.decode import best_spans
from bidaf.metric import evaluate, exact_match, f1_score, normalize_answer
from bidaf.squad import SquadFormatError, load_squad
from bidaf.tokenizer import answer_span, tokenize

SQUAD = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "squad")


@pytest.mark.parametrize("text", [
    "The state-of-the-art U.S. model, in the 1990s, cost $1,000.5 (approx.) don't",
    "Beyoncé’s \"Crazy in Love\" — 10:30pm\n\tnew  line",
    "",
])
def test_tokens_cut_the_text_verbatim_at_their_offsets(text):
    tokens = tokenize(text)
    for tok, start, end in tokens:
        assert text[start:end] == tok and tok.strip() == tok and tok
    assert "".join(t for t, _, _ in tokens) == "".join(text.split())  # nothing but white space is lost


def test_words_numbers_and_punctuation():
    assert [t for t, _, _ in tokenize("It cost $1,000.5, don't ask (U.S.).")] == [
        "It", "cost", "$", "1,000.5", ",", "don't", "ask", "(", "U", ".", "S", ".", ")", "."]


@pytest.mark.parametrize("context, answer, expected", [
    ("He was born in 1990s Paris.", "1990", "1990"),  # answer inside a token: the whole token
    ("A state-of-the-art design.", "art design", "art design"),  # starts inside a hyphenated word
    ("Price: $1,000.5 total", "1,000", "1,000.5"),  # a prefix of a number
    ("She said \"yes.\" Then left.", "yes.", "yes."),  # answer with trailing punctuation
    ("  leading  spaces here", "spaces", "spaces"),
])
def test_answer_spans_on_tricky_answers(context, answer, expected):
    tokens = tokenize(context)
    first, last = answer_span(tokens, context.index(answer), answer)
    assert context[tokens[first][1] : tokens[last][2]] == expected


def test_answer_in_white_space_only_maps_to_nothing():
    assert answer_span(tokenize("a   b"), 1, " ") is None


def test_metric_on_hand_made_cases():
    assert normalize_answer("The  Quick, brown FOX!") == "quick brown fox"
    assert normalize_answer("an apple and a pear") == "apple and pear"
    assert exact_match("the Eiffel Tower.", "Eiffel tower") == 1.0
    assert f1_score("Eiffel Tower in Paris", "the Eiffel Tower") == pytest.approx(2 * (2 / 4) * 1.0 / (2 / 4 + 1.0))
    assert f1_score("a", "the") == 0.0  # both normalize to nothing
    assert f1_score("cat cat", "cat") == pytest.approx(2 / 3)  # tokens count with multiplicity
    articles = [{"paragraphs": [{"context": "x", "qas": [
        {"id": "1", "question": "?", "answers": [{"answer_start": 0, "text": "Denver Broncos"}, {"answer_start": 0, "text": "Broncos"}]},
        {"id": "2", "question": "?", "answers": [{"answer_start": 0, "text": "1990"}]},
        {"id": "3", "question": "?", "answers": [{"answer_start": 0, "text": "blue"}]}]}]}]
    result = evaluate(articles, {"1": "broncos", "2": "in 1990"}, warn=None)  # 3 unanswered: 0
    assert result["exact_match"] == pytest.approx(100 / 3)
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)


@pytest.mark.realdata
def test_metric_on_the_reference_predictions():
    dev = os.path.join(SQUAD, "dev-v1.1.json.gz")
    pred = os.path.join(SQUAD, "reference_predictions", "bert_ensemble_google.dev-predictions.json.gz")
    if not (os.path.isfile(dev) and os.path.isfile(pred)):
        pytest.skip(f"real SQuAD data not found under {SQUAD}")
    with gzip.open(pred, "rt", encoding="utf-8") as f:
        result = evaluate(load_squad(dev), json.load(f))
    assert f"{result['exact_match']:.2f}" == "86.21" and f"{result['f1']:.2f}" == "92.20"


@pytest.mark.parametrize("content, message", [
    ("{not json", "malformed JSON"),
    ('{"version": "1.1"}', "top level"),
    ('{"data": [{"paragraphs": [{"qas": []}]}]}', "data[0].paragraphs[0]: a paragraph needs a 'context' string"),
    ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q", "answers": '
     '[{"answer_start": 2, "text": "cd"}]}]}]}]}', "outside the context"),
    ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q", "answers": '
     '[{"answer_start": "0", "text": "a"}]}]}]}]}', "integer 'answer_start'"),
])
def test_malformed_squad_json_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SquadFormatError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        load_squad(str(path))
    with pytest.raises(SquadFormatError, match="file not found"):
        load_squad(str(tmp_path / "missing.json"))


def test_best_span_is_the_brute_force_best_with_end_after_start():
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=(6, 9)), rng.normal(size=(6, 9))
    end[:, 0] = 10  # the best end alone comes first: it can only pair with start 0
    for max_len in (1, 3, 30):
        for row in range(6):
            brute = max(((i, j) for i in range(9) for j in range(i, min(9, i + max_len))),
                        key=lambda s: start[row, s[0]] + end[row, s[1]])
            assert tuple(best_spans(start, end, max_len)[row]) == brute
