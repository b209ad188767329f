"""The official SQuAD v1.1 metric, written from its definition.

An answer is normalized by lower-casing, removing punctuation, removing the articles a/an/the
and collapsing white space. Exact match: normalized strings equal. F1: harmonic mean of token
precision and recall (tokens = white-space split of the normalized string, counted with
multiplicity). A question scores the maximum over its ground-truth answers; the totals are
100 x the mean over every question of the dataset (an unanswered question scores 0).
"""

from __future__ import annotations

import collections
import re
import string
import sys

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = collections.Counter(pred) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def evaluate_answers(truths: dict, predictions: dict, warn=sys.stderr) -> dict:
    """{"exact_match", "f1"} of `predictions` {id: text} against `truths` {id: [answer texts]}."""
    em = f1 = 0.0
    for qid, answers in truths.items():
        if qid not in predictions:
            if warn is not None:
                print(f"Unanswered question {qid} will receive score 0.", file=warn)
            continue
        pred = predictions[qid]
        em += max(exact_match(pred, t) for t in answers)
        f1 += max(f1_score(pred, t) for t in answers)
    if not truths:
        return {"exact_match": 0.0, "f1": 0.0}
    return {"exact_match": 100.0 * em / len(truths), "f1": 100.0 * f1 / len(truths)}


def evaluate(articles, predictions: dict, warn=sys.stderr) -> dict:
    """{"exact_match", "f1"} of `predictions` {question id: answer text} on SQuAD `articles`."""
    truths = {qa["id"]: [a["text"] for a in qa["answers"]]
              for article in articles for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    return evaluate_answers(truths, predictions, warn)
