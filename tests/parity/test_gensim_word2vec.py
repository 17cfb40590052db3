"""word2vec against gensim 4 (the reference client): formats both ways, the noise and sub-sampling
formulas, the Huffman codes, the starting vectors, and the two evaluations on the same vectors.

Tolerances: the starting vectors' spread to 1 % (different generators, 2,000 x 50 draws each); probabilities to 1e-9 relative to gensim's integer tables (2**31 and 2**32 steps), vectors
exactly (binary) or to 1e-6 (text, 6 significant digits both ways), evaluation numbers to 1e-6.
"""

import numpy as np
import pytest

gensim = pytest.importorskip("gensim")
from gensim.models import KeyedVectors, Word2Vec  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402

from lmlab.data.words import keep_probabilities  # noqa: E402
from lmlab.io.word2vec_format import load_word2vec, save_word2vec  # noqa: E402
from lmlab.models.word2vec.config import Word2VecConfig  # noqa: E402
from lmlab.models.word2vec.huffman import huffman_codes  # noqa: E402
from lmlab.models.word2vec.model import Word2Vec as LmlabWord2Vec  # noqa: E402
from lmlab.models.word2vec.model import noise_distribution  # noqa: E402
from lmlab.tools.word_vectors import WordVectors  # noqa: E402


@pytest.fixture(scope="module")
def lee():
    """gensim's Word2Vec on its own lee_background.cor (one quick epoch, hs and neg tables both built)."""
    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        sents = [line.split() for line in f]
    return Word2Vec(sents, vector_size=20, min_count=3, epochs=1, workers=1, seed=1, hs=1, negative=5)


def test_noise_distribution_equals_gensim_cum_table(lee):
    counts = [lee.wv.get_vecattr(w, "count") for w in lee.wv.index_to_key]
    cum = lee.cum_table.astype(np.float64)
    gensim_p = np.diff(np.concatenate([[0.0], cum])) / cum[-1]
    np.testing.assert_allclose(noise_distribution(counts, 0.75), gensim_p, rtol=0, atol=2e-9)


def test_start_vectors_spread_as_gensims():
    """gensim 4 starts the word vectors uniform in ±1/dim (not the C tool's ±0.5/dim), the output rows at zero;
    lmlab starts the same way (its own generator, so the same spread, not the same numbers)."""
    import torch
    sents = [[f"w{i}" for i in range(2000)]] * 5
    model = Word2Vec(vector_size=50, min_count=1, hs=1, negative=5, seed=3)
    model.build_vocab(sents)
    torch.manual_seed(3)
    ours = LmlabWord2Vec(Word2VecConfig(vocab_size=2000, dim=50))
    theirs, mine = model.wv.vectors * 50, ours.in_emb.numpy() * 50
    for x in (theirs, mine):
        assert -1 <= x.min() < -0.99 and 0.99 < x.max() < 1
    assert mine.std() == pytest.approx(theirs.std(), rel=0.01)
    assert not model.syn1.any() and not model.syn1neg.any() and not ours.out_emb.any()


@pytest.mark.parametrize("sample", [1e-3, 1e-4])
def test_keep_probabilities_equal_gensim_sample_int(sample):
    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        sents = [line.split() for line in f]
    model = Word2Vec(min_count=3, sample=sample)
    model.build_vocab(sents)
    counts = [model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key]
    gensim_keep = np.array([model.wv.get_vecattr(w, "sample_int") for w in model.wv.index_to_key]) / (2**32 - 1)
    np.testing.assert_allclose(keep_probabilities(counts, sample), gensim_keep, rtol=0, atol=1e-9)


def test_huffman_codes_equal_gensim(lee):
    counts = [lee.wv.get_vecattr(w, "count") for w in lee.wv.index_to_key]
    codes, points = huffman_codes(counts)
    for i, w in enumerate(lee.wv.index_to_key):
        assert codes[i] == lee.wv.get_vecattr(w, "code").tolist(), w
        assert points[i] == lee.wv.get_vecattr(w, "point").tolist(), w


@pytest.mark.parametrize("binary", [False, True])
def test_formats_both_ways(lee, tmp_path, binary):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    lee.wv.save_word2vec_format(str(theirs), binary=binary)
    words, vectors = load_word2vec(theirs)
    assert words == lee.wv.index_to_key
    np.testing.assert_allclose(vectors, lee.wv.vectors, atol=0)
    save_word2vec(ours, words, vectors, binary=binary)
    back = KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert back.index_to_key == words
    np.testing.assert_allclose(back.vectors, vectors, atol=0)


def test_evaluations_equal_gensim_evaluators(lee):
    kv = lee.wv
    wv = WordVectors(kv.index_to_key, kv.vectors)
    pearson, spearman, oov = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    ours = wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert ours["spearman"] == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours["pearson"] == pytest.approx(pearson.statistic, abs=1e-6)
    assert ours["oov_percent"] == pytest.approx(oov, abs=1e-9)
    score, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    total = sections[-1]
    ours = wv.evaluate_word_analogies(datapath("questions-words.txt"))
    assert ours["questions"] == len(total["correct"]) + len(total["incorrect"]) > 100
    assert ours["accuracy"] == pytest.approx(score, abs=1e-9)


def test_queries_equal_gensim(lee):
    kv = lee.wv
    wv = WordVectors(kv.index_to_key, kv.vectors)
    assert [w for w, _ in wv.similar("government", 5)] == [w for w, _ in kv.most_similar("government", topn=5)]
    add = kv.most_similar(positive=["minister", "Australia"], negative=["government"], topn=5)
    mul = kv.most_similar_cosmul(positive=["minister", "Australia"], negative=["government"], topn=5)
    question = ("government", "minister", "Australia")
    ours_add, ours_mul = wv.analogy(*question, 5, "add"), wv.analogy(*question, 5, "mul")
    assert [w for w, _ in ours_add] == [w for w, _ in add]
    assert [w for w, _ in ours_mul] == [w for w, _ in mul]
    np.testing.assert_allclose([s for _, s in ours_mul], [s for _, s in mul], atol=1e-5)
