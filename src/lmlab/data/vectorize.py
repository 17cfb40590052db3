"""Bag-of-words vectors: a word tokenizer, a vocabulary with document-frequency limits, one-hot and count
vectors as sparse matrices (notes 002 III.1 and 004 "One-Hot编码"; scikit-learn's CountVectorizer is the
reference: Pedregosa et al. 2011, https://scikit-learn.org/stable/modules/feature_extraction.html).

A document becomes tokens by one regular expression (scikit-learn's default `(?u)\\b\\w\\w+\\b`: runs of two
or more word characters, after lower-casing). The vocabulary is the sorted set of terms whose document
frequency df (how many documents hold the term) lies in [min_df, max_df]; an int bound counts documents,
a float is a fraction of them (0.5 = half). With max_features only the terms most frequent over the
whole corpus stay (ties go to the alphabetically first term).

Everything is vectorised: tokens are mapped to ids through a dict in C (`map`), and the (document, term)
pairs are counted with one `np.unique` over their combined keys, which yields a canonical CSR matrix
directly — no Python loop per cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain, repeat
from numbers import Integral

import numpy as np
import scipy.sparse as sp

from lmlab.errors import LmlabError

TOKEN_PATTERN = r"(?u)\b\w\w+\b"


@dataclass(frozen=True)
class WordTokenizer:
    """Lower-case (optional), then every match of `pattern` is a token (its one group, if it has one)."""
    pattern: str = TOKEN_PATTERN
    lowercase: bool = True

    def __post_init__(self):
        try:
            groups = re.compile(self.pattern).groups
        except re.error as e:
            raise LmlabError(f"token pattern {self.pattern!r} is not a regular expression: {e}") from None
        if groups > 1:
            raise LmlabError(f"token pattern {self.pattern!r} has {groups} groups; at most one (the token)")

    def __call__(self, text: str) -> list[str]:
        return re.findall(self.pattern, text.lower() if self.lowercase else text)

    def corpus(self, docs: list[str]) -> tuple[list[str], np.ndarray]:
        """(every token of every document in order, each document's token count)."""
        find = re.compile(self.pattern).findall
        per_doc = [find(d.lower() if self.lowercase else d) for d in docs]
        lengths = np.fromiter(map(len, per_doc), dtype=np.int64, count=len(per_doc))
        return list(chain.from_iterable(per_doc)), lengths


def df_bounds(min_df: int | float, max_df: int | float, n_docs: int) -> tuple[float, float]:
    """min_df / max_df as document counts: an int is a count, a float a fraction of n_docs (scikit-learn's rule)."""
    for name, v in (("min_df", min_df), ("max_df", max_df)):
        if isinstance(v, bool) or not isinstance(v, (Integral, float)) or v < 0:
            raise LmlabError(f"{name} must be a count (int ≥ 0) or a fraction (float in [0, 1]); got {v!r}")
        if isinstance(v, float) and v > 1:
            raise LmlabError(f"{name} {v} is a float above 1; a fraction is in [0, 1], a count is an int")
    low = min_df if isinstance(min_df, Integral) else min_df * n_docs
    high = max_df if isinstance(max_df, Integral) else max_df * n_docs
    if high < low:
        raise LmlabError(f"max_df {max_df!r} allows fewer documents ({high:g}) than min_df {min_df!r} ({low:g}) "
                         f"over {n_docs} documents")
    return low, high


def _csr(doc_ids: np.ndarray, term_ids: np.ndarray, n_docs: int, n_terms: int) -> sp.csr_array:
    """Count the (document, term) pairs into a canonical CSR matrix (rows and columns sorted, no duplicates)."""
    keys, counts = np.unique(doc_ids * n_terms + term_ids, return_counts=True)
    rows, cols = np.divmod(keys, n_terms) if n_terms else (keys, keys)
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
    return sp.csr_array((counts.astype(np.int64), cols, indptr), shape=(n_docs, n_terms))


class Vocabulary:
    """The sorted terms kept, their document frequencies over the fitting corpus, and the tokenizer."""

    def __init__(self, terms: list[str], df: np.ndarray, n_docs: int, tokenizer: WordTokenizer = WordTokenizer()):
        self.terms = list(terms)
        self.df = np.asarray(df, dtype=np.int64)   # (V,) documents holding each term
        self.n_docs = n_docs
        self.tokenizer = tokenizer
        self.index = {t: i for i, t in enumerate(self.terms)}

    def __len__(self) -> int:
        return len(self.terms)

    def ids(self, tokens: list[str]) -> np.ndarray:
        """Each token's id, −1 for a token outside the vocabulary."""
        return np.fromiter(map(self.index.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))

    @classmethod
    def fit(cls, docs: list[str], *, min_df: int | float = 1, max_df: int | float = 1.0,
            max_features: int | None = None, binary: bool = False,
            tokenizer: WordTokenizer = WordTokenizer()) -> Vocabulary:
        return fit_counts(docs, min_df=min_df, max_df=max_df, max_features=max_features, binary=binary,
                          tokenizer=tokenizer)[0]


def fit_counts(docs: list[str], *, min_df: int | float = 1, max_df: int | float = 1.0,
               max_features: int | None = None, binary: bool = False,
               tokenizer: WordTokenizer = WordTokenizer()) -> tuple[Vocabulary, sp.csr_array, np.ndarray]:
    """Fit a vocabulary and count the same documents with it in one pass: (vocabulary, counts (N, V), each
    document's length in tokens, out-of-vocabulary tokens included). With `binary`, counts are 0/1
    (one-hot over the vocabulary: does the document hold the term?), also when max_features ranks terms."""
    if not docs:
        raise LmlabError("the corpus holds no documents")
    if max_features is not None and max_features < 1:
        raise LmlabError(f"max_features must be a positive number of terms, got {max_features}")
    low, high = df_bounds(min_df, max_df, len(docs))
    tokens, lengths = tokenizer.corpus(docs)
    if not tokens:
        raise LmlabError(f"no document holds a token (pattern {tokenizer.pattern!r}); "
                         f"all {len(docs)} documents are empty of words")
    terms = sorted(dict.fromkeys(tokens))                 # unique terms in C, then sorted
    index = {t: i for i, t in enumerate(terms)}
    term_ids = np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    counts = _csr(np.repeat(np.arange(len(docs)), lengths), term_ids, len(docs), len(terms))
    if binary:
        counts.data[:] = 1
    df = np.bincount(counts.indices, minlength=len(terms))
    keep = (df >= low) & (df <= high)
    if max_features is not None and keep.sum() > max_features:
        total = np.bincount(counts.indices, weights=counts.data, minlength=len(terms))
        kept = np.flatnonzero(keep)
        best = kept[np.argsort(-total[kept], kind="stable")[:max_features]]
        keep = np.zeros_like(keep)
        keep[best] = True
    if not keep.any():
        raise LmlabError(f"no term is left after min_df={min_df!r}, max_df={max_df!r}: the {len(terms):,} terms are "
                         f"in {df.min():,} to {df.max():,} of the {len(docs):,} documents")
    kept = np.flatnonzero(keep)
    vocab = Vocabulary([terms[i] for i in kept], df[kept], len(docs), tokenizer)
    return vocab, counts[:, kept], lengths


def count_matrix(docs: list[str], vocab: Vocabulary, binary: bool = False) -> sp.csr_array:
    """(N, V) term counts of `docs` over a fitted vocabulary (0/1 with `binary`); unknown tokens are dropped."""
    return count_with_lengths(docs, vocab, binary)[0]


def count_with_lengths(docs: list[str], vocab: Vocabulary, binary: bool = False) -> tuple[sp.csr_array, np.ndarray]:
    """count_matrix, and each document's length in tokens (unknown tokens included)."""
    tokens, lengths = vocab.tokenizer.corpus(docs)
    ids = vocab.ids(tokens)
    known = ids >= 0
    doc_ids = np.repeat(np.arange(len(docs)), lengths)
    counts = _csr(doc_ids[known], ids[known], len(docs), len(vocab))
    if binary:
        counts.data[:] = 1
    return counts, lengths


def one_hot(tokens: list[str], vocab: Vocabulary) -> sp.csr_array:
    """(T, V): row t is token t's one-hot vector (a single 1 at its id; all zeros for an unknown token).
    Summing the rows of a document gives its count vector."""
    ids = vocab.ids(tokens)
    rows = np.flatnonzero(ids >= 0)
    data = np.ones(len(rows), dtype=np.int64)
    return sp.csr_array((data, (rows, ids[rows])), shape=(len(tokens), len(vocab)))


def to_torch(matrix: sp.csr_array):
    """A scipy CSR matrix as a torch sparse CSR tensor (same values, no densifying)."""
    import warnings

    import torch
    m = sp.csr_array(matrix)
    with warnings.catch_warnings():   # torch calls its sparse CSR support "beta" on every construction
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                       torch.from_numpy(m.indices.astype(np.int64)),
                                       torch.from_numpy(m.data), size=m.shape, check_invariants=True)
