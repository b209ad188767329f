"""Penn Treebank reader: words -> ids (each line's words plus `<eos>`), vocabulary from train.

`batch_windows` (common.lm) then cuts the stream into the stateful windows of Zaremba et al.
"""

from __future__ import annotations

import collections
import os

import numpy as np

from common.errors import DataError

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")


def read_words(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise DataError(f"PTB file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    words = [w for line in lines for w in line.split() + [EOS]]
    if not any(w != EOS for w in words):
        raise DataError(f"PTB file is empty: {path}")
    return words


def build_vocabulary(words: list[str]) -> dict[str, int]:
    """Most frequent first, ties broken alphabetically (the TF tutorial's order)."""
    counts = collections.Counter(words)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {w: i for i, (w, _) in enumerate(ordered)}


def to_ids(words: list[str], vocab: dict[str, int], source: str) -> np.ndarray:
    unk = vocab.get(UNK)
    missing = [w for w in set(words) if w not in vocab]
    if missing and unk is None:
        raise DataError(
            f"{source}: {len(missing)} word type(s) are not in the training vocabulary and there is "
            f"no {UNK} token (e.g. {sorted(missing)[:3]}); PTB files are pre-processed with {UNK}"
        )
    return np.array([vocab.get(w, unk) for w in words], dtype=np.int32)


def load_ptb(data_path: str, prefix: str = "ptb"):
    """Returns ({split: ids}, vocab) from DIR/ptb.{train,valid,test}.txt."""
    if not os.path.isdir(data_path):
        raise DataError(f"data directory not found: {data_path}")
    paths = {s: os.path.join(data_path, f"{prefix}.{s}.txt") for s in SPLITS}
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    if missing:
        raise DataError(f"PTB file(s) not found: {', '.join(missing)}")
    words = {s: read_words(p) for s, p in paths.items()}
    vocab = build_vocabulary(words["train"])
    return {s: to_ids(w, vocab, paths[s]) for s, w in words.items()}, vocab
