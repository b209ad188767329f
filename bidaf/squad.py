"""SQuAD v1.1 files: reading (plain or .gz) with a clear error for anything malformed.

Layout: {"version": "1.1", "data": [{"title", "paragraphs": [{"context", "qas": [{"id",
"question", "answers": [{"answer_start", "text"}]}]}]}]}.
"""

from __future__ import annotations

import gzip
import json
import os

from common.errors import DataError


class SquadFormatError(DataError):
    """A SQuAD or predictions file that is missing or not in the official layout; the message says where."""


def read_json(path: str):
    """JSON from a plain or gzip-compressed file."""
    if not os.path.isfile(path):
        raise SquadFormatError(f"file not found: {path}")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise SquadFormatError(f"{path}: malformed JSON: {e}") from None
    except (UnicodeDecodeError, OSError, EOFError) as e:
        raise SquadFormatError(f"{path}: cannot be read as UTF-8 JSON ({e})") from None


def _require(condition, path, where, what):
    if not condition:
        raise SquadFormatError(f"{path}: {where}: {what}")


def load_squad(path: str) -> list[dict]:
    """The articles of a SQuAD v1.1 file, every field checked; answers may be empty only in test files."""
    data = read_json(path)
    _require(isinstance(data, dict) and isinstance(data.get("data"), list), path, "top level",
             'expected {"data": [...], "version": ...}')
    for a, article in enumerate(data["data"]):
        where = f"data[{a}]"
        _require(isinstance(article, dict) and isinstance(article.get("paragraphs"), list), path, where,
                 "an article needs a 'paragraphs' list")
        for p, paragraph in enumerate(article["paragraphs"]):
            pw = f"{where}.paragraphs[{p}]"
            _require(isinstance(paragraph, dict) and isinstance(paragraph.get("context"), str), path, pw,
                     "a paragraph needs a 'context' string")
            _require(isinstance(paragraph.get("qas"), list), path, pw, "a paragraph needs a 'qas' list")
            for q, qa in enumerate(paragraph["qas"]):
                qw = f"{pw}.qas[{q}]"
                _require(isinstance(qa, dict) and isinstance(qa.get("id"), str) and isinstance(qa.get("question"), str),
                         path, qw, "a question needs 'id' and 'question' strings")
                _require(isinstance(qa.get("answers"), list), path, qw, "a question needs an 'answers' list")
                for n, ans in enumerate(qa["answers"]):
                    aw = f"{qw}.answers[{n}]"
                    _require(isinstance(ans, dict) and isinstance(ans.get("text"), str), path, aw,
                             "an answer needs a 'text' string")
                    start = ans.get("answer_start")
                    _require(isinstance(start, int) and not isinstance(start, bool), path, aw,
                             "an answer needs an integer 'answer_start'")
                    _require(0 <= start and start + len(ans["text"]) <= len(paragraph["context"]), path, aw,
                             f"answer_start {start} + len {len(ans['text'])} is outside the context "
                             f"({len(paragraph['context'])} characters)")
    return data["data"]
