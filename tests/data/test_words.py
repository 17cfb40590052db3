"""Word corpora: sentences, the vocabulary, sub-sampling and the shrunk windows."""

import numpy as np
import pytest

from lmlab.data.words import Vocab, WordDataConfig, keep_probabilities, sentences, subsample, window_pairs
from lmlab.errors import LmlabError


def test_sentences_split_words_chars_and_jieba():
    assert sentences("a b  c\n\nd e\n", WordDataConfig()) == [["a", "b", "c"], ["d", "e"]]
    assert sentences("The Cat", WordDataConfig(lowercase=True)) == [["the", "cat"]]
    assert sentences("床前 明月光", WordDataConfig(split="chars")) == [["床", "前", "明", "月", "光"]]
    words = sentences("我们学习深度学习", WordDataConfig(split="jieba"))[0]
    assert "".join(words) == "我们学习深度学习" and 1 < len(words) < 8


def test_vocab_sorts_by_count_and_refuses_empty_or_rare():
    vocab = Vocab.build([["b", "a", "b", "c"], ["a", "b"]], min_count=2)
    assert vocab.words == ["b", "a"] and vocab.counts.tolist() == [3, 2]
    ids, sid = vocab.encode([["a", "zz", "b"], ["b"]])
    assert ids.tolist() == [1, 0, 0] and sid.tolist() == [0, 0, 1]
    with pytest.raises(LmlabError, match="holds no words"):
        Vocab.build([[], []], 1, source="empty.txt")
    with pytest.raises(LmlabError, match="min_count=5.*'b', occurs 3"):
        Vocab.build([["b", "a", "b", "c", "b"]], 5, source="small.txt")


def test_keep_probabilities_formula():
    counts = np.array([1000, 100, 10, 1])
    t = 1e-2 * counts.sum()
    expected = np.minimum((np.sqrt(counts / t) + 1) * t / counts, 1)
    np.testing.assert_allclose(keep_probabilities(counts, 1e-2), expected)
    assert keep_probabilities(counts, 0).tolist() == [1, 1, 1, 1]
    ids = np.zeros(20000, dtype=np.int64)
    kept, _ = subsample(ids, ids, keep_probabilities(counts, 1e-2), np.random.default_rng(0))
    assert abs(len(kept) / 20000 - expected[0]) < 0.02


def test_windows_stay_in_their_sentence_and_shrink_at_random():
    sid = np.array([0] * 6 + [1] * 6)
    centre, ctx, ok = window_pairs(sid, 0, 12, 3, np.random.default_rng(0))
    assert ok.shape == (12, 6)
    assert (sid[ctx[ok]] == np.broadcast_to(sid[centre][:, None], ok.shape)[ok]).all()
    _, _, full = window_pairs(sid, 0, 12, 3, None)
    assert full[2].tolist() == [False, True, True, True, True, True]  # position 2: -3 is outside the corpus
    # distance d is kept with probability (W - d + 1) / W
    sid = np.zeros(30000, dtype=np.int64)
    _, _, ok = window_pairs(sid, 10, 29990, 4, np.random.default_rng(1))
    np.testing.assert_allclose(ok[:, 4:].mean(0), [1, 0.75, 0.5, 0.25], atol=0.02)
