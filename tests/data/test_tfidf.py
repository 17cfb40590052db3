"""lmlab.data.tfidf: every tf, idf and norm option worked on a four-document corpus by hand
(parity with scikit-learn on fortunes: tests/parity/test_sklearn_tfidf.py)."""

import math

import numpy as np
import pytest

from lmlab.data.tfidf import Tfidf, TfidfConfig, idf_weights, normalize, tf_weights, top_terms
from lmlab.data.vectorize import WordTokenizer, fit_counts
from lmlab.errors import LmlabError

DOCS = ["the cat sat on the mat", "the dog sat on the log", "the cat chased the dog", "the bird sat"]


def test_idf_formulas_by_hand():
    df = np.array([1, 3, 4])
    assert idf_weights(df, 4, "smooth") == pytest.approx([math.log(5 / 2) + 1, math.log(5 / 4) + 1, 1.0])
    assert idf_weights(df, 4, "sklearn-raw") == pytest.approx([math.log(4) + 1, math.log(4 / 3) + 1, 1.0])
    notes = idf_weights(df, 4, "notes")
    assert notes == pytest.approx([math.log(2), 0.0, math.log(4 / 5)])
    assert notes[1] == 0 and notes[2] < 0            # 0 for N − 1 documents, negative for all N
    assert idf_weights(df, 4, "none").tolist() == [1, 1, 1]


def test_tf_kinds_by_hand():
    _, counts, lengths = fit_counts(["a b the the the", "the"], tokenizer=WordTokenizer(r"(?u)\b\w+\b"))
    # terms a, b, the; d1 counts 1 1 3 (length 5), d2 0 0 1 (length 1)
    assert tf_weights(counts, lengths, "raw").toarray().tolist() == [[1, 1, 3], [0, 0, 1]]
    assert tf_weights(counts, lengths, "binary").toarray().tolist() == [[1, 1, 1], [0, 0, 1]]
    assert tf_weights(counts, lengths, "sublinear").toarray()[0] == pytest.approx([1, 1, 1 + math.log(3)])
    assert tf_weights(counts, lengths, "notes").toarray().tolist() == [[0.2, 0.2, 0.6], [0, 0, 1.0]]
    assert counts.dtype == np.int64                  # weighing copies


def test_norms_make_unit_rows_and_leave_zero_rows():
    x = Tfidf(TfidfConfig(tf="notes", idf="notes", norm="none")).fit_transform(DOCS + ["?"])
    l2 = normalize(x.copy(), "l2").toarray()
    l1 = normalize(x.copy(), "l1").toarray()
    assert np.linalg.norm(l2[:4], axis=1) == pytest.approx(1.0)
    assert np.abs(l1[:4]).sum(1) == pytest.approx(1.0)
    assert not l2[4].any() and not l1[4].any()


def test_notes_tfidf_of_the_first_document_by_hand():
    model = Tfidf(TfidfConfig(tf="notes", idf="notes", norm="none"))
    x = model.fit_transform(DOCS).toarray()
    row = dict(zip(model.vocab.terms, x[0]))
    assert row["the"] == pytest.approx(2 / 6 * math.log(4 / 5)) and row["the"] < 0
    assert row["mat"] == pytest.approx(1 / 6 * math.log(2))
    assert row["sat"] == 0 and row["dog"] == 0
    # transform uses the fitted idf; the document's length counts unknown words
    y = model.transform(["the zebra zebra cat"]).toarray()[0]
    assert dict(zip(model.vocab.terms, y))["cat"] == pytest.approx(1 / 4 * math.log(4 / 3))


def test_top_terms_best_first_ties_alphabetical():
    model = Tfidf()
    x = model.fit_transform(DOCS)
    top = top_terms(x, model.vocab.terms, 3)
    assert [t for t, _ in top[0]] == ["the", "mat", "cat"]     # raw counts: 2 × idf 1 beats 1 × 1.92
    assert [t for t, _ in top[1]] == ["the", "log", "dog"]
    assert top_terms(x, model.vocab.terms, 2, rows=[3]) == [top_terms(x, model.vocab.terms, 2)[3]]
    sub = Tfidf(TfidfConfig(tf="sublinear")).fit_transform(DOCS)
    assert top_terms(sub, model.vocab.terms, 1)[0][0][0] == "mat"


@pytest.mark.parametrize("kwargs, needle", [({"tf": "log"}, "tf must be one of"), ({"idf": "bm25"}, "idf must be"),
                                            ({"norm": None}, "norm must be"), ({"max_features": -1}, "max_features"),
                                            ({"token_pattern": "("}, "not a regular expression")])
def test_config_refuses_bad_values(kwargs, needle):
    with pytest.raises(LmlabError, match=needle):
        TfidfConfig(**kwargs)


def test_transform_before_fit_is_an_error():
    with pytest.raises(LmlabError, match="fit the TF-IDF model"):
        Tfidf().transform(DOCS)
