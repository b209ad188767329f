"""Answer decoding: the span (i, j), i <= j < i + max_len, maximizing p_start(i) * p_end(j)."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, max_len: int) -> np.ndarray:
    """[B, 2] best (start, end) per row; logits [B, L] (padding already at a large negative value)."""
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    ls, le = log_softmax(start_logits.astype(np.float64)), log_softmax(end_logits.astype(np.float64))
    batch, length = ls.shape
    best = np.full(batch, -np.inf)
    spans = np.zeros((batch, 2), np.int64)
    for width in range(min(max_len, length)):  # end = start + width
        score = ls[:, : length - width] + le[:, width:]
        i = score.argmax(axis=1)
        value = score[np.arange(batch), i]
        better = value > best
        best[better] = value[better]
        spans[better] = np.stack([i, i + width], axis=1)[better]
    return spans
