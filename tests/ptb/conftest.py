import random

import pytest

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "<unk>", "ran", "fast", "N", "and"]
TEMPLATES = [
    "the {n} sat on the {m}",
    "a {n} ran fast",
    "the {n} and a {n} sat on a {m}",
    "N {n} ran on the {m} and <unk>",
]


def write_corpus(folder, lines=(300, 60, 60), seed=0):
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "valid", "test"), lines):
        with open(folder / f"ptb.{split}.txt", "w") as f:
            for _ in range(n):
                line = rng.choice(TEMPLATES).format(n=rng.choice(["cat", "dog"]), m=rng.choice(["mat", "dog"]))
                f.write(" " + line + " \n")
    return folder


@pytest.fixture
def tiny_corpus(tmp_path):
    return write_corpus(tmp_path / "data")
