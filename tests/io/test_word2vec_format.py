"""The word2vec text and binary formats: round trips, and damaged files refused with a clear line."""

import numpy as np
import pytest

from lmlab.errors import LmlabError
from lmlab.io.word2vec_format import load_word2vec, save_word2vec

WORDS = ["the", "naïve", "猫", "x"]


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip(tmp_path, binary):
    vectors = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    save_word2vec(tmp_path / "v", WORDS, vectors, binary=binary)
    words, back = load_word2vec(tmp_path / "v")  # the format is sniffed
    assert words == WORDS
    np.testing.assert_allclose(back, vectors, rtol=1e-5 if not binary else 0, atol=1e-6 if not binary else 0)


@pytest.mark.parametrize("binary", [False, True])
def test_truncated_or_wrong_dim_refused(tmp_path, binary):
    path = tmp_path / "v"
    save_word2vec(path, WORDS, np.ones((4, 5)), binary=binary)
    data = path.read_bytes()
    path.write_bytes(data[:-12])
    with pytest.raises(LmlabError, match="truncated|numbers where"):
        load_word2vec(path, binary=binary)
    path.write_bytes(data.replace(b"4 5\n", b"4 6\n", 1))
    with pytest.raises(LmlabError, match="dim 6"):
        load_word2vec(path, binary=binary)


def test_bad_header_and_words(tmp_path):
    (tmp_path / "bad.txt").write_text("hello world\n")
    with pytest.raises(LmlabError, match=r"bad.txt:1: not a word2vec file"):
        load_word2vec(tmp_path / "bad.txt")
    (tmp_path / "dup.txt").write_text("2 1\na 1\na 2\n")
    with pytest.raises(LmlabError, match="'a' appears twice"):
        load_word2vec(tmp_path / "dup.txt")
    (tmp_path / "nan.txt").write_text("1 2\na 1 x\n")
    with pytest.raises(LmlabError, match=r"nan.txt:2: not a number"):
        load_word2vec(tmp_path / "nan.txt")
    with pytest.raises(LmlabError, match="whitespace"):
        save_word2vec(tmp_path / "o.txt", ["a b"], np.ones((1, 2)))
