"""word2vec's CPU fast path: the C tool's per-pair SGD, compiled with numba (Mikolov et al. 2013; word2vec.c,
gensim's word2vec_inner.pyx).

One example at a time, as the paper trains: an input vector h (C,) — a context word's vector (skip-gram) or
the mean of the window's vectors (CBOW) — scores S output rows (the centre word and its noise words, or the
inner nodes of its Huffman path) one after another; each row moves at once by lr·(label - σ(v·h))·h, and h's
step is summed in `work` and added after the last row. Sub-sampling, the random window shrink and the noise
draws happen here too, from the C tool's 48-bit linear congruential generator, one per thread. The
functions release the GIL (nogil): two Python threads, each on its own jobs of sentences, update the same
weights without locks (Hogwild, as the C tool's and gensim's threads do). The batched torch update in
model.py is the reference these steps are tested against.

As in gensim (word2vec_inner.pyx, both losses) and the C tool (hierarchical softmax), a row that scores
|v·h| >= MAX_EXP is left as it is and adds nothing to h's step: σ is saturated there. Only the dot product may
sum in any order (fastmath "reassoc", so it becomes SIMD, as BLAS's sdot that gensim calls does); every other
operation is IEEE float32 in program order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lmlab.models.word2vec.config import MAX_EXP

_MUL, _ADD, _MASK = np.uint64(25214903917), np.uint64(11), np.uint64((1 << 48) - 1)
_SHIFT, _LOW32 = np.uint64(16), np.uint64(0xFFFFFFFF)


@njit(nogil=True, cache=True, inline="always")
def _next(state) -> np.uint64:
    """The C tool's generator: next = next · 25214903917 + 11 (mod 2^48); its upper 32 bits are used."""
    state[0] = (state[0] * _MUL + _ADD) & _MASK
    return (state[0] >> _SHIFT) & _LOW32


@njit(nogil=True, cache=True, inline="always")
def _uniform(state) -> float:
    return float(_next(state)) / 4294967296.0                  # in [0, 1)


@njit(nogil=True, cache=True, inline="always")
def _randint(state, n: int) -> int:
    return int((_next(state) * np.uint64(n)) >> np.uint64(32))  # in [0, n): a multiply, not a slow modulo


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def _dot(h, out_emb, row: int) -> np.float32:
    """h · out_emb[row], summed in any order (SIMD). Not inline="always": numba would inline it as IR into a
    caller compiled without the flag, and the sum would stay a scalar chain (1.6x slower)."""
    s = np.float32(0.0)
    for c in range(h.shape[0]):
        s += h[c] * out_emb[row, c]
    return s


@njit(nogil=True, cache=True, inline="always")
def sgd_example(h, out_emb, rows, labels, n: int, lr: np.float32, work) -> float:
    """One example: h (C,) against output rows rows[:n] with 0/1 labels. Each row v with |v·h| < MAX_EXP moves
    now by g·h, g = lr·(label - σ(v·h)); work (C,) gathers h's step Σ g·v (v before its move). Returns the
    loss Σ -log σ(±v·h) over all n rows. (Rows are indexed, never sliced: a slice would count references to
    the shared matrix atomically, and two threads doing so would fight over one cache line.)"""
    loss, likelihood = 0.0, 1.0      # the loss is -log Π σ(±v·h): one log an example, not one a row
    for s in range(n):
        r = rows[s]
        score = _dot(h, out_emb, r)
        if score <= -MAX_EXP or score >= MAX_EXP:                # saturated: no step, only its loss
            e = np.exp(-abs(score))
            likelihood *= 1.0 / (1.0 + e) if (score >= 0) == (labels[s] > 0) else e / (1.0 + e)
        else:
            p = 1.0 / (1.0 + np.exp(-score))                     # σ(score), |score| < 6: no overflow
            likelihood *= p if labels[s] > 0 else 1.0 - p
            g = np.float32((labels[s] - p) * lr)
            for c in range(h.shape[0]):
                work[c] += g * out_emb[r, c]
            for c in range(h.shape[0]):
                out_emb[r, c] += g * h[c]
        if likelihood < 1e-200:                                  # far from float64's underflow
            loss, likelihood = loss - np.log(likelihood), 1.0
    return loss - np.log(likelihood)


@njit(nogil=True, cache=True, inline="always")
def draw_targets(word: int, points, path_labels, depth, accept, alias, negative: int, state, rows, labels) -> int:
    """The output rows that predict `word` into rows/labels; returns how many. Hierarchical softmax (depth
    non-empty): its Huffman path, label 1 - code bit. Negative sampling: the word (label 1) and `negative`
    noise words from the alias table of unigram^0.75 (label 0); a draw of the word itself is skipped."""
    if depth.shape[0]:
        for s in range(depth[word]):
            rows[s], labels[s] = points[word, s], path_labels[word, s]
        return depth[word]
    rows[0], labels[0] = word, 1.0
    n = 1
    for _ in range(negative):
        i = _randint(state, accept.shape[0])
        if _uniform(state) >= accept[i]:
            i = alias[i]
        if i != word:
            rows[n], labels[n] = i, 0.0
            n += 1
    return n


@njit(nogil=True, cache=True)
def train_job(in_emb, out_emb, ids, bounds, keep, skipgram: bool, window: int, shrink: bool, points, path_labels,
              depth, accept, alias, negative: int, lr: float, state):
    """Train on the sentences ids[bounds[k]:bounds[k+1]]: drop words at random by `keep` (sub-sampling),
    then for each centre word a window shrunk at random to 1..window (shrink; else the whole window), inside
    the sentence as it is after sub-sampling. Skip-gram: each context word's vector predicts the centre
    word, one example per pair (the C tool's order). CBOW: the mean of the window's vectors predicts it,
    and every context word gets the whole step (gensim's cbow_mean=1). Returns (words, examples, loss sum)."""
    dim = in_emb.shape[1]
    lr32 = np.float32(lr)
    most = max(negative + 1, points.shape[1])
    rows, labels = np.empty(most, np.int64), np.empty(most, np.float32)
    work, h = np.empty(dim, np.float32), np.empty(dim, np.float32)
    longest = 0
    for k in range(bounds.shape[0] - 1):
        longest = max(longest, bounds[k + 1] - bounds[k])
    sent = np.empty(longest, np.int64)
    words, examples, loss = 0, 0, 0.0
    for k in range(bounds.shape[0] - 1):
        n = 0
        for t in range(bounds[k], bounds[k + 1]):
            if keep[ids[t]] < 1.0 and keep[ids[t]] < _uniform(state):
                continue
            sent[n] = ids[t]
            n += 1
        words += n
        for i in range(n):
            reach = window - _randint(state, window) if shrink else window
            lo, hi = max(i - reach, 0), min(i + reach + 1, n)
            if skipgram:
                for j in range(lo, hi):
                    if j == i:
                        continue
                    m = draw_targets(sent[i], points, path_labels, depth, accept, alias, negative, state, rows,
                                     labels)
                    for c in range(dim):
                        h[c], work[c] = in_emb[sent[j], c], 0.0
                    loss += sgd_example(h, out_emb, rows, labels, m, lr32, work)
                    for c in range(dim):
                        in_emb[sent[j], c] += work[c]
                    examples += 1
            elif hi - lo > 1:
                for c in range(dim):
                    h[c] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        for c in range(dim):
                            h[c] += in_emb[sent[j], c]
                inv = np.float32(1.0 / (hi - lo - 1))
                for c in range(dim):
                    h[c] *= inv
                m = draw_targets(sent[i], points, path_labels, depth, accept, alias, negative, state, rows, labels)
                for c in range(dim):
                    work[c] = 0.0
                loss += sgd_example(h, out_emb, rows, labels, m, lr32, work)
                for j in range(lo, hi):
                    if j != i:
                        for c in range(dim):
                            in_emb[sent[j], c] += work[c]
                examples += 1
    return words, examples, loss
