import numpy as np
import pytest

from common.errors import DataError
from common.lm import batch_windows
from ptb.reader import build_vocabulary, load_ptb, read_words


def test_words_get_eos_and_vocabulary_is_by_frequency_then_alphabet(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(" b a \n c b \n")
    words = read_words(str(path))
    assert words == ["b", "a", "<eos>", "c", "b", "<eos>"]
    assert build_vocabulary(words) == {"<eos>": 0, "b": 1, "a": 2, "c": 3}


def test_windows_are_in_stateful_order():
    ids = np.arange(2 * 11, dtype=np.int32)  # two streams: 0..10 and 11..21
    x, y, w = batch_windows(ids, batch_size=2, num_steps=3)
    # 10 input positions per stream -> 3 full windows; row j of window i+1 continues row j of window i
    assert x.shape == (6, 3)
    np.testing.assert_array_equal(x[0], [0, 1, 2])
    np.testing.assert_array_equal(x[1], [11, 12, 13])
    np.testing.assert_array_equal(x[2], [3, 4, 5])
    np.testing.assert_array_equal(x[5], [17, 18, 19])
    np.testing.assert_array_equal(y, x + 1)
    assert w.min() == 1.0


def test_padded_windows_score_every_token_once():
    ids = np.arange(2 * 11, dtype=np.int32)
    x, y, w = batch_windows(ids, batch_size=2, num_steps=3, pad=True)
    assert x.shape == (8, 3) and w.sum() == 2 * 10
    np.testing.assert_array_equal(y[6], [10, 0, 0])
    np.testing.assert_array_equal(w[6], [1, 0, 0])


def test_missing_empty_non_utf8_and_unknown_words_are_clear_errors(tmp_path, tiny_corpus):
    with pytest.raises(DataError, match="data directory not found"):
        load_ptb(str(tmp_path / "nowhere"))
    (tiny_corpus / "ptb.valid.txt").unlink()
    with pytest.raises(DataError, match="not found: .*ptb.valid.txt"):
        load_ptb(str(tiny_corpus))
    (tiny_corpus / "ptb.valid.txt").write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        load_ptb(str(tiny_corpus))
    (tiny_corpus / "ptb.valid.txt").write_bytes(b"the \xff\xfe cat\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_ptb(str(tiny_corpus))
    train = (tiny_corpus / "ptb.train.txt").read_text().replace("<unk>", "the")
    (tiny_corpus / "ptb.train.txt").write_text(train)
    (tiny_corpus / "ptb.valid.txt").write_text(" zebra the cat \n")
    with pytest.raises(DataError, match="not in the training vocabulary and there is no <unk>"):
        load_ptb(str(tiny_corpus))


def test_too_short_stream_is_a_clear_error():
    with pytest.raises(DataError, match="too few"):
        batch_windows(np.arange(10, dtype=np.int32), batch_size=4, num_steps=5)
