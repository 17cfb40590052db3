"""Querying word vectors: neighbours, 3CosAdd and 3CosMul, and the out-of-vocabulary error."""

import numpy as np
import pytest

from lmlab.errors import LmlabError
from lmlab.tools.word_vectors import WordVectors

# a toy space: axis 0 = royalty, axis 1 = gender (+ male), axis 2 = noise
WORDS = ["man", "woman", "king", "queen", "apple"]
VECS = np.array([[0, 1, 0.1], [0, -1, 0.1], [1, 1, 0], [1, -1, 0], [0, 0, 1]], dtype=np.float32)


def test_similar_and_analogies():
    wv = WordVectors(WORDS, VECS)
    assert wv.similar("king", 1)[0][0] in ("man", "queen")
    assert [w for w, _ in wv.similar("man", 4)][-1] == "woman"
    for method in ("add", "mul"):
        assert wv.analogy("man", "king", "woman", 1, method)[0][0] == "queen"
    assert "king" not in [w for w, _ in wv.analogy("man", "king", "woman", 4)]


def test_unknown_word_names_the_closest_spellings():
    with pytest.raises(LmlabError, match="'kingg' is not in the vocabulary.*closest by spelling: king"):
        WordVectors(WORDS, VECS).similar("kingg")


def test_precision_at_k_and_the_ppmi_baseline():
    from lmlab.tools.word_vectors import ppmi_svd, precision_at_k
    wv = WordVectors(WORDS, VECS)
    labels = {"man": "male", "woman": "female", "king": "male", "queen": "female", "apple": "fruit"}
    assert precision_at_k(wv, labels, k=1) == pytest.approx(0.8)  # all but apple (nearest: man)
    baskets = [[0, 1], [0, 1, 2], [1, 2], [3, 4], [3, 4, 5], [4, 5]]  # two groups that never meet
    near = WordVectors(list("abcdef"), ppmi_svd(baskets, 6, dim=2))
    assert near.similar("a", 1)[0][0] in "bc" and near.similar("d", 1)[0][0] in "ef"
