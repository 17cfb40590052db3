"""lmlab.data.vectorize: the word tokenizer, the vocabulary's df limits, counts, one-hot and torch export
(the numbers against scikit-learn on real text are in tests/parity/test_sklearn_tfidf.py)."""

import numpy as np
import pytest
import torch

from lmlab.data.vectorize import (
    Vocabulary,
    WordTokenizer,
    count_matrix,
    count_with_lengths,
    df_bounds,
    fit_counts,
    one_hot,
    to_torch,
)
from lmlab.errors import LmlabError

DOCS = ["The cat sat on the mat.", "The dog sat on the log!", "the cat chased the dog", "A bird sat"]


def test_tokenizer_is_two_or_more_word_characters_lower_cased():
    assert WordTokenizer()("A cat's 2 O'Brien x9 Zürich") == ["cat", "brien", "x9", "zürich"]
    assert WordTokenizer(lowercase=False)("The CAT") == ["The", "CAT"]
    assert WordTokenizer(r"(?u)\b(\w)\w*\b")("cat dog") == ["c", "d"]          # the one group is the token
    tokens, lengths = WordTokenizer().corpus(DOCS)
    assert lengths.tolist() == [6, 6, 5, 2] and tokens[:3] == ["the", "cat", "sat"]


@pytest.mark.parametrize("pattern, needle", [("(", "not a regular expression"), (r"(\w)(\w)", "2 groups")])
def test_bad_token_pattern_is_one_clear_error(pattern, needle):
    with pytest.raises(LmlabError, match=needle):
        WordTokenizer(pattern)


def test_vocabulary_is_sorted_with_document_frequencies():
    v = Vocabulary.fit(DOCS)
    assert v.terms == ["bird", "cat", "chased", "dog", "log", "mat", "on", "sat", "the"]
    assert dict(zip(v.terms, v.df.tolist()))["the"] == 3 and dict(zip(v.terms, v.df.tolist()))["sat"] == 3
    assert v.n_docs == 4 and len(v) == 9 and v.ids(["cat", "zebra"]).tolist() == [1, -1]


def test_df_bounds_int_counts_float_fractions():
    assert df_bounds(2, 0.5, 10) == (2, 5.0)
    assert df_bounds(0.25, 3, 8) == (2.0, 3)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(LmlabError, match="min_df"):
            df_bounds(bad, 1.0, 10)
    with pytest.raises(LmlabError, match="fewer documents"):
        df_bounds(5, 0.1, 10)


def test_min_max_df_and_max_features_prune_terms():
    assert Vocabulary.fit(DOCS, min_df=2).terms == ["cat", "dog", "on", "sat", "the"]
    assert Vocabulary.fit(DOCS, max_df=0.5).terms == ["bird", "cat", "chased", "dog", "log", "mat", "on"]
    # totals: the 5, sat 3, then cat/dog/on 2 each: the tie goes to the alphabetically first
    assert Vocabulary.fit(DOCS, max_features=3).terms == ["cat", "sat", "the"]
    # binary ranks by document frequency instead: the 3, sat 3, cat/dog/on 2
    assert Vocabulary.fit(DOCS, max_features=2, binary=True).terms == ["sat", "the"]


@pytest.mark.parametrize("docs, kwargs, needle", [
    ([], {}, "no documents"),
    (["a b", "!"], {}, "no document holds a token"),
    (DOCS, {"min_df": 4}, "no term is left after min_df=4"),
    (DOCS, {"max_features": 0}, "max_features"),
])
def test_bad_corpora_are_one_clear_error(docs, kwargs, needle):
    with pytest.raises(LmlabError, match=needle):
        fit_counts(docs, **kwargs)


def test_counts_drop_unknown_tokens_but_lengths_count_them():
    vocab, counts, lengths = fit_counts(DOCS, min_df=2)
    assert counts.toarray()[0].tolist() == [1, 0, 1, 1, 2]          # cat dog on sat the
    assert lengths.tolist() == [6, 6, 5, 2]                         # 'mat' counts in d1's length
    again, lengths2 = count_with_lengths(["the zebra the cat"], vocab)
    assert again.toarray().tolist() == [[1, 0, 0, 0, 2]] and lengths2.tolist() == [4]
    assert count_matrix(DOCS, vocab, binary=True).toarray()[0].tolist() == [1, 0, 1, 1, 1]
    assert counts.has_canonical_format


def test_one_hot_rows_sum_to_the_count_vector():
    vocab = Vocabulary.fit(DOCS)
    tokens = WordTokenizer()(DOCS[0])
    hot = one_hot(tokens + ["zebra"], vocab).toarray()
    assert hot.shape == (7, 9) and hot[:6].sum(1).tolist() == [1] * 6 and hot[6].sum() == 0
    assert hot.sum(0).tolist() == count_matrix(DOCS[:1], vocab).toarray()[0].tolist()


def test_to_torch_is_the_same_sparse_matrix():
    counts = count_matrix(DOCS, Vocabulary.fit(DOCS)).astype(np.float64)
    t = to_torch(counts)
    assert t.layout == torch.sparse_csr
    assert torch.equal(t.to_dense(), torch.from_numpy(counts.toarray()))
