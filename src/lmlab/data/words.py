"""Word corpora for word2vec: sentences of words, the vocabulary, sub-sampling and context windows.

A sentence is a line of text split on whitespace (as gensim's LineSentence; Chinese by characters,
or into words with jieba), cut into pieces of at most 10,000 words. The vocabulary keeps words seen
at least `min_count` times, most frequent first. Each epoch drops frequent words at random
(Mikolov et al. 2013b, gensim's formula: keep with probability (sqrt(f/t) + 1) · t/f, f the word's
count, t = sample × total count) and then pairs each centre word with the words within a window
shrunk at random to 1..window (which weights near words more: distance d is used with probability
(window - d + 1) / window).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lmlab.config import check_choices
from lmlab.errors import LmlabError

MAX_SENTENCE = 10_000  # gensim's MAX_WORDS_IN_BATCH: longer lines are cut


@dataclass(frozen=True)
class WordDataConfig:
    min_count: int = 5                      # rarer words are dropped from the vocabulary
    sample: float = 1e-3                    # sub-sampling threshold (0: keep every word)
    lowercase: bool = False
    split: Literal["whitespace", "chars", "jieba"] = "whitespace"  # how a line becomes words

    def __post_init__(self):
        check_choices(self, "split")
        if self.min_count < 1 or self.sample < 0:
            raise ValueError(f"need min_count >= 1 and sample >= 0; got {self.min_count}, {self.sample}")


def sentences(text: str, cfg: WordDataConfig) -> list[list[str]]:
    """The text's lines as lists of words (empty lines dropped; long ones cut at MAX_SENTENCE)."""
    if cfg.lowercase:
        text = text.lower()
    if cfg.split == "jieba":
        import jieba
        jieba.setLogLevel(60)
        split = lambda line: [w for w in jieba.lcut(line) if w.strip()]  # noqa: E731
    elif cfg.split == "chars":
        split = lambda line: [ch for ch in line if not ch.isspace()]  # noqa: E731
    else:
        split = str.split
    out = []
    for line in text.splitlines():
        words = split(line)
        out += [words[i:i + MAX_SENTENCE] for i in range(0, len(words), MAX_SENTENCE)]
    return out


@dataclass
class Vocab:
    words: list[str]        # most frequent first (ties: first seen first)
    counts: np.ndarray      # (V,) int64

    @classmethod
    def build(cls, sents: list[list[str]], min_count: int, source: str = "the corpus") -> Vocab:
        counter = Counter(w for s in sents for w in s)
        if not counter:
            raise LmlabError(f"{source} holds no words; give a text with some content")
        kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: -wc[1])
        if not kept:
            top = counter.most_common(1)[0]
            raise LmlabError(f"{source}: no word occurs min_count={min_count} times (the most frequent, "
                             f"{top[0]!r}, occurs {top[1]}); lower --min_count or give more text")
        return cls([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, sents: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """All in-vocabulary words as one id array (N,) and the sentence number of each (N,)."""
        index = self.index
        ids, sid = [], []
        for n, s in enumerate(sents):
            row = [index[w] for w in s if w in index]
            ids += row
            sid += [n] * len(row)
        return np.array(ids, dtype=np.int64), np.array(sid, dtype=np.int64)


def keep_probabilities(counts, sample: float) -> np.ndarray:
    """P(keep) of each vocabulary word under sub-sampling (gensim's formula, word2vec.c's too)."""
    counts = np.asarray(counts, dtype=np.float64)
    if not sample:
        return np.ones_like(counts)
    t = sample * counts.sum() if sample < 1.0 else int(sample * (3 + np.sqrt(5)) / 2)
    return np.minimum((np.sqrt(counts / t) + 1) * (t / counts), 1.0)


def subsample(ids: np.ndarray, sid: np.ndarray, keep: np.ndarray, rng: np.random.Generator):
    """One epoch's corpus: each word token kept with its word's probability."""
    mask = rng.random(len(ids)) < keep[ids]
    return ids[mask], sid[mask]


def window_pairs(sid: np.ndarray, start: int, stop: int, window: int, rng: np.random.Generator | None):
    """Centre positions start..stop-1 (B,), their context positions (B, 2W) and which of those count
    (B, 2W): within a window shrunk at random to 1..window (the whole window when rng is None), and
    inside the centre's sentence."""
    centre = np.arange(start, stop)
    shrink = rng.integers(0, window, size=len(centre)) if rng is not None else np.zeros_like(centre)
    reach = window - shrink                                                     # (B,) in 1..window
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])  # (2W,)
    ctx = centre[:, None] + offsets[None, :]                                    # (B, 2W)
    ok = (np.abs(offsets)[None, :] <= reach[:, None]) & (ctx >= 0) & (ctx < len(sid))
    ok[ok] = sid[ctx[ok]] == np.broadcast_to(sid[centre][:, None], ok.shape)[ok]
    return centre, ctx, ok
