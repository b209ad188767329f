"""A self-contained word tokenizer that keeps each token's character offsets.

Tokens are numbers with inner separators ("1,000", "3.5", "10:30"), words with inner
apostrophes ("don't", "Beyoncé’s"), and every other visible character on its own. A number and a
letter suffix split ("1990s" -> "1990", "s"), as do hyphenated compounds ("state-of-the-art" ->
7 tokens), so answers that start or end inside such a word (as BiDAF's pre-processing also
allows) map to whole tokens. Offsets index the original string, so a predicted token span is cut out of the
context verbatim.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"\d+(?:[.,:]\d+)*"  # numbers: 1,000  3.5  10:30
    r"|[^\W\d_]+(?:['\u2019][^\W\d_]+)*"  # words, with inner apostrophes: don't, O'Neil
    r"|\S",  # any other single visible character: punctuation, symbols
    re.UNICODE,
)


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """[(token, start, end)] with text[start:end] == token."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def answer_span(tokens, answer_start: int, answer_text: str) -> tuple[int, int] | None:
    """(first, last) token index covering the answer's characters; None if no token overlaps it.

    A token that overlaps the answer at all is in the span, so an answer that starts or ends
    inside a token ("1990" in "1990s") maps to the whole token.
    """
    answer_end = answer_start + len(answer_text)
    inside = [i for i, (_, s, e) in enumerate(tokens) if s < answer_end and e > answer_start]
    if not inside:
        return None
    return inside[0], inside[-1]
