"""Pre-process SQuAD v1.1 for BiDAF: tokens with offsets, answer spans, vocabularies, GloVe matrix.

    python -m bidaf.prepro --source_dir=DATA/squad --glove_path=DATA/glove/glove.6B.50d.txt.gz \
        --target_dir=DATA/squad_bidaf

Reads {train,dev}-v1.1.json (or .json.gz) from source_dir and writes to target_dir:
  vocab.json        words (id -> word; 0 <pad>, 1 <unk>), chars (same), glove_dim, max_word_len
  embeddings.npy    [words, glove_dim] GloVe rows (pad and unk rows zero)
  {split}.npz       ragged token arrays: per context and per question the word ids and the char
                    ids of each token, the contexts' token character offsets, and per question its
                    paragraph and answer token span (-1 -1 where the answer maps to no token)
  {split}.json.gz   the contexts' text, the question ids and their answer texts: spans back to text, scores
The word vocabulary is every (lower-cased) token of the processed files that GloVe knows, the
embedding stays fixed in training, as in BiDAF; characters come from the training split.
"""

from __future__ import annotations

import collections
import gzip
import json
import os

import numpy as np
from absl import app, flags, logging

from bidaf.data import EMBEDDINGS_FILE, VOCAB_FILE, split_files
from bidaf.squad import load_squad
from bidaf.tokenizer import answer_span, tokenize
from common.errors import DataError

PAD, UNK = "<pad>", "<unk>"
SPLITS = ("train", "dev")


def find_split_file(source_dir: str, split: str) -> str:
    for name in (f"{split}-v1.1.json", f"{split}-v1.1.json.gz"):
        path = os.path.join(source_dir, name)
        if os.path.isfile(path):
            return path
    raise DataError(f"no {split}-v1.1.json(.gz) in {source_dir}")


def tokenize_split(articles) -> dict:
    """Tokens of every context and question; answer spans (first answer) as token indices."""
    contexts, questions = [], []
    unmapped = 0
    for article in articles:
        for paragraph in article["paragraphs"]:
            tokens = tokenize(paragraph["context"])
            contexts.append({"text": paragraph["context"], "tokens": tokens})
            for qa in paragraph["qas"]:
                span = None
                if qa["answers"]:
                    first = qa["answers"][0]
                    span = answer_span(tokens, first["answer_start"], first["text"])
                    unmapped += span is None
                questions.append({"id": qa["id"], "tokens": tokenize(qa["question"]), "paragraph": len(contexts) - 1,
                                  "span": span or (-1, -1), "answers": [a["text"] for a in qa["answers"]]})
    return {"contexts": contexts, "questions": questions, "unmapped": unmapped}


def read_glove(path: str, wanted: set[str]) -> dict[str, np.ndarray]:
    """GloVe vectors (plain or .gz text, 'word v1 .. vd' per line) of the wanted words."""
    if not os.path.isfile(path):
        raise DataError(f"GloVe file not found: {path}")
    opener = gzip.open if path.endswith(".gz") else open
    vectors = {}
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            word, _, rest = line.rstrip("\n").partition(" ")
            if word in wanted:
                vec = np.array(rest.split(" "), dtype=np.float32)
                if vectors and vec.size != next(iter(vectors.values())).size:
                    raise DataError(f"{path}: line {n + 1} has {vec.size} numbers, earlier lines had another dimension")
                vectors[word] = vec
    if not vectors:
        raise DataError(f"{path}: no vector for any word of the data (is it a GloVe text file?)")
    return vectors


def char_ids(tokens, char_index, max_word_len):
    out = np.zeros((len(tokens), max_word_len), np.int16)
    for i, (tok, _, _) in enumerate(tokens):
        ids = [char_index.get(c, 1) for c in tok[:max_word_len]]
        out[i, : len(ids)] = ids
    return out


def _ragged(token_lists, word_index, char_index, max_word_len):
    lengths = [len(t) for t in token_lists]
    flat = [tok for t in token_lists for tok in t]
    return {
        "words": np.array([word_index.get(tok.lower(), 1) for tok, _, _ in flat], np.int32),
        "chars": char_ids(flat, char_index, max_word_len),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
    }


def write_split(target_dir, split, tokenized, word_index, char_index, max_word_len):
    arrays_path, text_path = split_files(target_dir, split)
    ctx = _ragged([c["tokens"] for c in tokenized["contexts"]], word_index, char_index, max_word_len)
    qs = _ragged([q["tokens"] for q in tokenized["questions"]], word_index, char_index, max_word_len)
    np.savez_compressed(
        arrays_path,
        context_words=ctx["words"], context_chars=ctx["chars"], context_offsets=ctx["offsets"],
        context_char_spans=np.array([(s, e) for c in tokenized["contexts"] for _, s, e in c["tokens"]], np.int32),
        question_words=qs["words"], question_chars=qs["chars"], question_offsets=qs["offsets"],
        question_paragraph=np.array([q["paragraph"] for q in tokenized["questions"]], np.int32),
        answer_spans=np.array([q["span"] for q in tokenized["questions"]], np.int32).reshape(-1, 2),
    )
    with gzip.open(text_path, "wt", encoding="utf-8") as f:
        json.dump({"contexts": [c["text"] for c in tokenized["contexts"]],
                   "ids": [q["id"] for q in tokenized["questions"]],
                   "answers": [q["answers"] for q in tokenized["questions"]]}, f)


def prepro(source_dir: str, glove_path: str, target_dir: str, max_word_len: int = 16, splits=SPLITS) -> dict:
    tokenized = {s: tokenize_split(load_squad(find_split_file(source_dir, s))) for s in splits}
    words = {tok.lower() for t in tokenized.values() for part in ("contexts", "questions")
             for item in t[part] for tok, _, _ in item["tokens"]}
    glove = read_glove(glove_path, words)
    vocab_words = [PAD, UNK] + sorted(glove)
    word_index = {w: i for i, w in enumerate(vocab_words)}
    dim = next(iter(glove.values())).size
    embeddings = np.zeros((len(vocab_words), dim), np.float32)
    for w, i in word_index.items():
        if w in glove:
            embeddings[i] = glove[w]
    counts = collections.Counter(ch for c in tokenized["train"]["contexts"] + tokenized["train"]["questions"]
                                 for tok, _, _ in c["tokens"] for ch in tok)
    vocab_chars = [PAD, UNK] + sorted(counts)
    char_index = {c: i for i, c in enumerate(vocab_chars)}
    os.makedirs(target_dir, exist_ok=True)
    np.save(os.path.join(target_dir, EMBEDDINGS_FILE), embeddings)
    with open(os.path.join(target_dir, VOCAB_FILE), "w", encoding="utf-8") as f:
        json.dump({"words": vocab_words, "chars": vocab_chars, "glove_dim": int(dim), "max_word_len": max_word_len,
                   "sources": {s: os.path.abspath(find_split_file(source_dir, s)) for s in splits}}, f)
    report = {"words": len(vocab_words), "chars": len(vocab_chars), "glove_dim": int(dim)}
    for s in splits:
        write_split(target_dir, s, tokenized[s], word_index, char_index, max_word_len)
        report[s] = {"contexts": len(tokenized[s]["contexts"]), "questions": len(tokenized[s]["questions"]),
                     "unmapped_answers": tokenized[s]["unmapped"]}
    return report


FLAGS = flags.FLAGS


def main(argv):
    del argv
    from common.cli import exit_on_user_error

    @exit_on_user_error("bidaf.prepro")
    def run(_):
        report = prepro(FLAGS.source_dir, FLAGS.glove_path, FLAGS.target_dir, FLAGS.max_word_len)
        logging.info("vocabulary: %d words with GloVe vectors (dim %d), %d characters",
                     report["words"], report["glove_dim"], report["chars"])
        for s in SPLITS:
            logging.info("%s: %s", s, report[s])
        print(json.dumps(report))

    run(None)


if __name__ == "__main__":
    flags.DEFINE_string("source_dir", None, "Folder with train-v1.1.json(.gz) and dev-v1.1.json(.gz).", required=True)
    flags.DEFINE_string("glove_path", None, "GloVe text file (plain or .gz), e.g. glove.6B.50d.txt.gz.", required=True)
    flags.DEFINE_string("target_dir", None, "Output folder.", required=True)
    flags.DEFINE_integer("max_word_len", 16, "Characters kept per token for the char CNN.", lower_bound=1)
    app.run(main)
