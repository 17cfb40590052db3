"""lmlab.data.tfidf / vectorize against scikit-learn, for every option they share (smooth_idf, sublinear_tf,
binary, norm l2/l1/None, use_idf, min_df/max_df as counts and fractions, max_features, lowercase), on the full
fortunes texts (../shared/data/fortunes, 14,381 texts; skipped when that folder is not beside the repository)
and on the 450 fortunes of tests/data. The full texts take ~10 s on an idle 2-core machine (marked slow). Vocabularies must be equal term for term; every matrix entry within
1e-6 (both work in float64; the differences seen are ~1e-16).

scikit-learn's side is its CountVectorizer (counted once per vocabulary setting, so the suite stays fast)
followed by TfidfTransformer — exactly what TfidfVectorizer.fit_transform runs; TfidfVectorizer itself is
compared end to end, fit on four fifths of the texts and transforming the rest.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer

from lmlab.data.tfidf import Tfidf, TfidfConfig
from lmlab.data.vectorize import Vocabulary, count_matrix

HERE = Path(__file__).resolve().parents[1] / "data" / "fortunes_3topics.jsonl"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "fortunes" / "fortunes.en.jsonl"
TOL = 1e-6

# (lmlab TfidfConfig keys, the same setting in scikit-learn's TfidfVectorizer)
OPTIONS = [
    ({}, {}),
    ({"idf": "sklearn-raw"}, {"smooth_idf": False}),
    ({"tf": "sublinear"}, {"sublinear_tf": True}),
    ({"tf": "binary"}, {"binary": True}),
    ({"norm": "none"}, {"norm": None}),
    ({"norm": "l1", "idf": "none"}, {"norm": "l1", "use_idf": False}),
    ({"tf": "sublinear", "idf": "sklearn-raw", "norm": "none"}, {"sublinear_tf": True, "smooth_idf": False,
                                                                  "norm": None}),
    ({"min_df": 3, "max_df": 0.5}, {"min_df": 3, "max_df": 0.5}),
    ({"min_df": 0.001, "max_df": 200}, {"min_df": 0.001, "max_df": 200}),
    ({"lowercase": False, "tf": "binary", "min_df": 2}, {"lowercase": False, "binary": True, "min_df": 2}),
]


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module", params=["tests/data (450)",
                                        pytest.param("shared (14,381)", marks=pytest.mark.slow)])
def texts(request) -> list[str]:
    if request.param.startswith("shared"):
        if not SHARED.is_file():
            pytest.skip(f"{SHARED} is not beside the repository")
        return _texts(SHARED)
    return _texts(HERE)


_COUNTED: dict = {}


def _counted(texts: list[str], **kw):
    """scikit-learn's CountVectorizer on `texts` with these settings, fitted once."""
    key = (id(texts), tuple(sorted(kw.items())))
    if key not in _COUNTED:
        ref = CountVectorizer(**kw)
        _COUNTED[key] = (ref.fit_transform(texts), list(ref.get_feature_names_out()))
    return _COUNTED[key]


def _same(ours, theirs, terms_ours, terms_theirs):
    assert terms_ours == list(terms_theirs)
    assert ours.shape == theirs.shape
    assert abs(ours - theirs).max() <= TOL


@pytest.mark.parametrize("ours, theirs", OPTIONS, ids=[str(o) for o, _ in OPTIONS])
def test_tfidf_equals_scikit_learn(texts, ours, theirs):
    vocab_keys = {k: v for k, v in theirs.items() if k in ("binary", "min_df", "max_df", "lowercase")}
    counts, terms = _counted(texts, **vocab_keys)
    ref = TfidfTransformer(**{k: v for k, v in theirs.items() if k not in vocab_keys})
    model = Tfidf(TfidfConfig(**ours))
    _same(model.fit_transform(texts), ref.fit_transform(counts), model.vocab.terms, terms)
    if ref.use_idf:
        assert np.abs(model.idf - ref.idf_).max() <= TOL


@pytest.mark.parametrize("ours, theirs", OPTIONS[:4], ids=[str(o) for o, _ in OPTIONS[:4]])
def test_fit_then_transform_new_texts_equals_tfidf_vectorizer(ours, theirs):
    texts = _texts(HERE)
    fit, new = texts[:360], texts[360:]
    model, ref = Tfidf(TfidfConfig(**ours)).fit(fit), TfidfVectorizer(**theirs).fit(fit)
    _same(model.transform(new), ref.transform(new), model.vocab.terms, ref.get_feature_names_out())


def test_max_features_equals_scikit_learn(texts):
    """Terms tied in total count at the cut are kept in an order numpy's unstable argsort chooses in
    scikit-learn (lmlab takes the alphabetically first), so the cut is placed where no tie straddles it."""
    totals = np.sort(np.asarray(_counted(texts)[0].sum(0)).ravel())[::-1]
    k = next(k for k in range(len(totals) // 10, len(totals)) if totals[k - 1] != totals[k])
    model, ref = Tfidf(TfidfConfig(max_features=k)), TfidfVectorizer(max_features=k)
    _same(model.fit_transform(texts), ref.fit_transform(texts), model.vocab.terms, ref.get_feature_names_out())
    assert len(model.vocab) == k


@pytest.mark.parametrize("binary", [False, True], ids=["counts", "one-hot"])
def test_counts_and_one_hot_equal_count_vectorizer(texts, binary):
    theirs, terms = _counted(texts, binary=binary, min_df=2)
    vocab = Vocabulary.fit(texts, min_df=2, binary=binary)
    ours = count_matrix(texts, vocab, binary=binary)
    assert vocab.terms == terms
    assert (ours != theirs).nnz == 0
