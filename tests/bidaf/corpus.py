"""A tiny SQuAD-format corpus and GloVe file made up by the tests (no real data needed)."""

import gzip
import json
import random

COUNTRIES = ["Norway", "Chile", "Kenya", "Peru", "Japan", "Egypt", "Spain", "Nepal"]
CITIES = ["Oslo", "Santiago", "Nairobi", "Lima", "Tokyo", "Cairo", "Madrid", "Kathmandu"]
PEOPLE = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"]
YEARS = ["1901", "1923", "1950", "1977", "1999", "2004"]


def paragraph(rng):
    i = rng.randrange(len(COUNTRIES))
    person, year = rng.choice(PEOPLE), rng.choice(YEARS)
    sentences = [f"The capital of {COUNTRIES[i]} is {CITIES[i]}.", f"{person} was born in {year}.",
                 f"{person} later moved to {CITIES[i]}."]
    rng.shuffle(sentences)
    context = " ".join(sentences)
    qas = []
    for question, answer in ((f"What is the capital of {COUNTRIES[i]}?", CITIES[i]),
                             (f"When was {person} born?", year)):
        qas.append({"id": f"q{rng.getrandbits(48):012x}", "question": question,
                    "answers": [{"answer_start": context.index(answer), "text": answer}]})
    return {"context": context, "qas": qas}


def write_squad(folder, paragraphs=(120, 20), seed=0, gz=False):
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "dev"), paragraphs):
        data = {"version": "1.1", "data": [{"title": "Tiny", "paragraphs": [paragraph(rng) for _ in range(n)]}]}
        text = json.dumps(data)
        if gz:
            with gzip.open(folder / f"{split}-v1.1.json.gz", "wt", encoding="utf-8") as f:
                f.write(text)
        else:
            (folder / f"{split}-v1.1.json").write_text(text)
    return folder


def write_glove(path, dim=6, seed=0):
    rng = random.Random(seed)
    words = {w.lower() for w in COUNTRIES + CITIES + PEOPLE + YEARS} | {
        "the", "capital", "of", "is", "was", "born", "in", "later", "moved", "to", "what", "when", ".", "?"}
    with open(path, "w", encoding="utf-8") as f:
        for w in sorted(words):
            f.write(w + " " + " ".join(f"{rng.uniform(-1, 1):.4f}" for _ in range(dim)) + "\n")
    return path
