"""Penn Treebank reader: words -> ids -> the batched windows of Zaremba et al. / the TF tutorial.

The token stream (each line's words plus `<eos>`) is cut into `batch_size` parallel streams;
window i of every stream is one batch, so row j of batch i+1 continues row j of batch i and a
stateful LSTM can carry its state from window to window.
"""

from __future__ import annotations

import collections
import os

import numpy as np

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")


class DataError(ValueError):
    """The data directory or a data file is missing or unusable; the message says which."""


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


def batch_windows(ids: np.ndarray, batch_size: int, num_steps: int, pad: bool = False):
    """Inputs, targets and weights [num_windows * batch_size, num_steps] in stateful order.

    Without `pad`, the tail that does not fill a window is dropped (as the reference does for
    training). With `pad`, the last window is padded and its padding gets weight 0, so every
    token of the stream is scored exactly once (used for evaluation).
    """
    if batch_size < 1 or num_steps < 1:
        raise ValueError(f"batch_size and num_steps must be >= 1, got {batch_size}, {num_steps}")
    batch_len = len(ids) // batch_size
    if batch_len < 2:
        raise DataError(f"{len(ids)} tokens are too few for batch_size {batch_size}")
    streams = ids[: batch_size * batch_len].reshape(batch_size, batch_len)
    inputs, targets = streams[:, :-1], streams[:, 1:]
    n = batch_len - 1
    windows = -(-n // num_steps) if pad else n // num_steps
    if windows == 0:
        raise DataError(f"{len(ids)} tokens are too few for batch_size {batch_size} x num_steps {num_steps}")
    width = windows * num_steps
    weights = np.zeros((batch_size, width), np.float32)
    weights[:, : min(n, width)] = 1.0
    if width > n:
        inputs = np.pad(inputs, ((0, 0), (0, width - n)))
        targets = np.pad(targets, ((0, 0), (0, width - n)))

    def stack(a):  # [B, W*T] -> [W*B, T], window-major
        return a[:, :width].reshape(batch_size, windows, num_steps).transpose(1, 0, 2).reshape(-1, num_steps)

    return stack(inputs), stack(targets), stack(weights)
