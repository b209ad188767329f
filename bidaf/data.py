"""Pre-processed SQuAD (bidaf.prepro output) as padded, length-bucketed batches of numpy arrays.

Batches group examples of similar context length (sorted within chunks of 50 batches, then the
batches shuffled), and pad to a multiple of 64 context / 16 question tokens, so there are only
about 7 x 3 distinct batch shapes (JAX compiles once per shape) for about 20% padding. No Keras
here, so bidaf.train reads (and refuses) its data before Keras loads; bidaf.batches feeds fit.
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np

from common.errors import DataError

CONTEXT_PAD, QUESTION_PAD = 64, 16  # at most ~7 x 3 distinct batch shapes: few JAX compilations
VOCAB_FILE, EMBEDDINGS_FILE = "vocab.json", "embeddings.npy"  # bidaf.prepro writes these and the splits


def split_files(data_dir: str, split: str) -> tuple[str, str]:
    """The arrays and the text of one split in a bidaf.prepro folder."""
    return os.path.join(data_dir, f"{split}.npz"), os.path.join(data_dir, f"{split}.json.gz")


def _round_up(n: int, multiple: int) -> int:
    return max(multiple, -(-n // multiple) * multiple)


class SquadArrays:
    """One split of a bidaf.prepro folder; question i reads paragraph question_paragraph[i]."""

    def __init__(self, data_dir: str, split: str):
        path, meta_path = split_files(data_dir, split)
        self.embeddings_path = os.path.join(data_dir, EMBEDDINGS_FILE)
        for p in (path, meta_path, os.path.join(data_dir, VOCAB_FILE), self.embeddings_path):
            if not os.path.isfile(p):
                raise DataError(f"{p} not found: run python -m bidaf.prepro first (see README)")
        with np.load(path) as arrays:
            self.arrays = {k: arrays[k] for k in arrays.files}
        with gzip.open(meta_path, "rt", encoding="utf-8") as f:
            meta = json.load(f)
        with open(os.path.join(data_dir, VOCAB_FILE), encoding="utf-8") as f:
            self.vocab = json.load(f)
        self.contexts, self.ids, self.answers = meta["contexts"], meta["ids"], meta["answers"]
        a = self.arrays
        self.context_lengths = np.diff(a["context_offsets"])
        self.question_lengths = np.diff(a["question_offsets"])
        self.max_word_len = a["context_chars"].shape[1]

    def __len__(self):
        return len(self.ids)

    def example_context_lengths(self, indices=None):
        idx = np.arange(len(self)) if indices is None else np.asarray(indices)
        return self.context_lengths[self.arrays["question_paragraph"][idx]]

    def trainable_examples(self, max_context_len: int) -> np.ndarray:
        """Questions with a mapped answer inside the first max_context_len context tokens."""
        spans = self.arrays["answer_spans"]
        ok = (spans[:, 0] >= 0) & (spans[:, 1] < max_context_len)
        return np.flatnonzero(ok)

    def batch(self, indices, max_context_len: int | None = None):
        """(inputs dict, {"start", "end"} token indices) padded for the given questions; contexts cut at max_context_len."""
        a = self.arrays
        paragraphs = a["question_paragraph"][indices]
        c_len = np.minimum(self.context_lengths[paragraphs], max_context_len or np.iinfo(np.int64).max)
        q_len = self.question_lengths[indices]
        lc, lq, w = _round_up(int(c_len.max()), CONTEXT_PAD), _round_up(int(q_len.max()), QUESTION_PAD), self.max_word_len
        out = {
            "context_words": np.zeros((len(indices), lc), np.int32),
            "context_chars": np.zeros((len(indices), lc, w), np.int32),
            "question_words": np.zeros((len(indices), lq), np.int32),
            "question_chars": np.zeros((len(indices), lq, w), np.int32),
        }
        for row, (q, p) in enumerate(zip(indices, paragraphs)):
            cs = a["context_offsets"][p]
            n = c_len[row]
            out["context_words"][row, :n] = a["context_words"][cs : cs + n]
            out["context_chars"][row, :n] = a["context_chars"][cs : cs + n]
            qs, qe = a["question_offsets"][q], a["question_offsets"][q + 1]
            out["question_words"][row, : qe - qs] = a["question_words"][qs:qe]
            out["question_chars"][row, : qe - qs] = a["question_chars"][qs:qe]
        spans = a["answer_spans"][indices]
        return out, {"start": np.maximum(spans[:, 0], 0).astype(np.int32), "end": np.maximum(spans[:, 1], 0).astype(np.int32)}

    def answer_text(self, index: int, start: int, end: int) -> str:
        """The context's characters from token `start` to token `end` (inclusive), verbatim."""
        p = self.arrays["question_paragraph"][index]
        spans = self.arrays["context_char_spans"][self.arrays["context_offsets"][p] :]
        return self.contexts[p][spans[start][0] : spans[end][1]]


def bucketed_batches(lengths, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of similar length; with rng, shuffled within and across chunks of 50 batches."""
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if rng is not None:
        rng.shuffle(batches)
    return batches


def padded_to_multiple(indices: np.ndarray, multiple: int):
    """(indices, per-example loss weights) with the batch padded to a multiple of `multiple` rows.

    For data-parallel training, whose devices each take an equal share of every batch. The padding
    repeats the first example with weight 0, and the real ones get weight padded / real, so the
    weighted mean over the padded batch is exactly the plain mean over the real examples.
    """
    real = len(indices)
    padded = -(-real // multiple) * multiple
    weights = np.zeros(padded, np.float32)
    weights[:real] = padded / real
    return np.concatenate([indices, np.repeat(indices[:1], padded - real)]), weights


def load_prepared(data_dir: str) -> tuple[SquadArrays, SquadArrays]:
    """The train and dev splits of a bidaf.prepro folder (a DataError naming the first missing file)."""
    return SquadArrays(data_dir, "train"), SquadArrays(data_dir, "dev")
