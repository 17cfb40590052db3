"""TF-IDF (notes 002 III.1 "统计时代:TF-IDF"; Spärck Jones 1972; scikit-learn's TfidfVectorizer is the
reference for the options it shares).

tf-idf(t, d) = tf(t, d) · idf(t), then each document's vector is normalised. With N documents and df(t)
of them holding t:

  tf    raw        count of t in d                       (scikit-learn's default)
        binary     1 if t is in d                        (scikit-learn's binary=True)
        sublinear  1 + ln(count)                         (sublinear_tf=True)
        notes      count / the document's length in tokens (the notes: 词频 = 出现次数 / 文章总词数)
  idf   smooth      ln((1 + N) / (1 + df)) + 1           (scikit-learn's default, smooth_idf=True)
        sklearn-raw ln(N / df) + 1                       (smooth_idf=False)
        notes       ln(N / (df + 1))                     (the notes' formula)
        none        1                                    (use_idf=False)
  norm  l2 (unit length), l1 (absolute values sum to 1), none.

The notes' idf is 0 for a term in N − 1 documents and negative for a term in every document
(ln(N / (N + 1)) < 0): the commonest words then score *below* words that are absent. scikit-learn adds
1 so that no idf drops below 1. `lmlab explain tf-idf` works through both on a small corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import scipy.sparse as sp

from lmlab.data.vectorize import TOKEN_PATTERN, Vocabulary, WordTokenizer, count_with_lengths, fit_counts
from lmlab.errors import LmlabError

TF_KINDS = ("raw", "binary", "sublinear", "notes")
IDF_KINDS = ("smooth", "sklearn-raw", "notes", "none")
NORMS = ("l2", "l1", "none")


@dataclass(frozen=True)
class TfidfConfig:
    """The defaults are scikit-learn's TfidfVectorizer defaults."""
    tf: str = "raw"                       # raw | binary | sublinear | notes
    idf: str = "smooth"                   # smooth | sklearn-raw | notes | none
    norm: str = "l2"                      # l2 | l1 | none
    min_df: int | float = 1               # int: documents; float: fraction of the documents
    max_df: int | float = 1.0
    max_features: int = 0                 # keep the most frequent terms only (0: all)
    lowercase: bool = True
    token_pattern: str = TOKEN_PATTERN

    def __post_init__(self):
        for name, value, kinds in (("tf", self.tf, TF_KINDS), ("idf", self.idf, IDF_KINDS),
                                   ("norm", self.norm, NORMS)):
            if value not in kinds:
                raise LmlabError(f"{name} must be one of {', '.join(kinds)}; got {value!r}")
        if not isinstance(self.max_features, Integral) or self.max_features < 0:
            raise LmlabError(f"max_features must be a number of terms (0: all), got {self.max_features!r}")
        WordTokenizer(self.token_pattern, self.lowercase)   # refuses a bad pattern now, not at fit time


def idf_weights(df: np.ndarray, n_docs: int, kind: str) -> np.ndarray:
    """(V,) inverse document frequencies of terms held by `df` of `n_docs` documents (module doc)."""
    df = np.asarray(df, dtype=np.float64)
    if kind == "smooth":
        return np.log((1 + n_docs) / (1 + df)) + 1
    if kind == "sklearn-raw":
        return np.log(n_docs / df) + 1
    if kind == "notes":
        return np.log(n_docs / (df + 1))
    if kind == "none":
        return np.ones_like(df)
    raise LmlabError(f"idf must be one of {', '.join(IDF_KINDS)}; got {kind!r}")


def tf_weights(counts: sp.csr_array, lengths: np.ndarray, kind: str) -> sp.csr_array:
    """The term frequencies of a count matrix (float64, same sparsity)."""
    tf = sp.csr_array(counts, dtype=np.float64, copy=True)
    if kind == "binary":
        tf.data[:] = 1.0
    elif kind == "sublinear":
        tf.data = np.log(tf.data) + 1.0
    elif kind == "notes":
        tf.data /= np.repeat(lengths, np.diff(tf.indptr))   # the row's length, once per stored entry
    elif kind != "raw":
        raise LmlabError(f"tf must be one of {', '.join(TF_KINDS)}; got {kind!r}")
    return tf


def normalize(x: sp.csr_array, norm: str) -> sp.csr_array:
    """Scale each row to unit l2 or l1 norm, in place; an all-zero row stays zero."""
    if norm == "none":
        return x
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    size = np.bincount(rows, weights=x.data * x.data if norm == "l2" else np.abs(x.data), minlength=x.shape[0])
    if norm == "l2":
        size = np.sqrt(size)
    size[size == 0] = 1.0
    x.data /= size[rows]
    return x


class Tfidf:
    """Fit on a corpus (vocabulary and idf), then weigh any documents with them: a (N, V) scipy CSR matrix."""

    def __init__(self, cfg: TfidfConfig = TfidfConfig()):
        self.cfg = cfg
        self.vocab: Vocabulary | None = None
        self.idf: np.ndarray | None = None   # (V,)

    def _weigh(self, counts: sp.csr_array, lengths: np.ndarray) -> sp.csr_array:
        x = tf_weights(counts, lengths, self.cfg.tf)
        x.data *= self.idf[x.indices]
        return normalize(x, self.cfg.norm)

    def fit_transform(self, docs: list[str]) -> sp.csr_array:
        c = self.cfg
        self.vocab, counts, lengths = fit_counts(
            docs, min_df=c.min_df, max_df=c.max_df, max_features=c.max_features or None, binary=c.tf == "binary",
            tokenizer=WordTokenizer(c.token_pattern, c.lowercase))
        self.idf = idf_weights(self.vocab.df, self.vocab.n_docs, c.idf)
        return self._weigh(counts, lengths)

    def fit(self, docs: list[str]) -> Tfidf:
        self.fit_transform(docs)
        return self

    def transform(self, docs: list[str]) -> sp.csr_array:
        if self.vocab is None:
            raise LmlabError("fit the TF-IDF model on a corpus before transforming documents")
        counts, lengths = count_with_lengths(docs, self.vocab)
        return self._weigh(counts, lengths)


def top_terms(x: sp.csr_array, terms: list[str], k: int, rows: range | list[int] | None = None,
              ) -> list[list[tuple[str, float]]]:
    """Each row's k highest-weighted terms as (term, weight), best first (ties: the alphabetically first)."""
    x = sp.csr_array(x)
    out = []
    for i in range(x.shape[0]) if rows is None else rows:
        lo, hi = x.indptr[i], x.indptr[i + 1]
        w, cols = x.data[lo:hi], x.indices[lo:hi]
        order = np.lexsort((cols, -w))[:k]    # by weight, descending, then by term id (sorted = alphabetical)
        out.append([(terms[cols[j]], float(w[j])) for j in order])
    return out
