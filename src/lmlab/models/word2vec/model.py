"""The word2vec model and its update, written out by hand (Mikolov et al. 2013a/b; the C tool's SGD).

Two matrices: `in_emb` (V, C), the word vectors everyone keeps, and `out_emb` (N, C), the output side:
one row per word for negative sampling (N = V), one per inner node of the Huffman tree for
hierarchical softmax (N = V - 1). A training example is an input vector h (C,) — a context word's
vector (skip-gram) or the mean of the context words' vectors (CBOW) — and S output rows with 0/1
labels: the centre word and `negative` noise words drawn from unigram^0.75 (labels 1, 0, …, 0), or
the inner nodes on the centre word's Huffman path (label 1 - code bit). The loss of one row is
-log sigmoid(±v·h); its gradient is (label - sigmoid(v·h)) times the other vector, applied only where
|v·h| < MAX_EXP (6), as gensim and the C tool do. A batch is B
centre words with their windows (B, 2W): gather the rows, score them with one bmm, and add the
lr-scaled gradients back with index_add_ (rows that repeat in a batch get the sum of their steps, as
Hogwild threads would, capped by `damping`). Autograd and an optimizer would only add overhead to
this plain SGD. Training on CPU runs the per-pair kernel of kernel.py by default (one example at a
time, as the C tool); this batched form is `--engine torch` and the reference the kernel is tested
against.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lmlab.models.word2vec.config import MAX_EXP, Word2VecConfig
from lmlab.models.word2vec.huffman import huffman_codes, padded


def noise_distribution(counts, exponent: float = 0.75) -> np.ndarray:
    """P(noise word = i) ∝ count_i ** exponent (gensim's cum_table, as probabilities)."""
    weights = np.asarray(counts, dtype=np.float64) ** exponent
    return weights / weights.sum()


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias method (Vose's construction): draw i uniformly, keep it with probability accept[i],
    else take alias[i]. Exact for any distribution, O(1) a draw (a binary search per draw is slower)."""
    n = len(probs)
    scaled = probs * n
    accept, alias = np.ones(n), np.arange(n)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return accept, alias


def step_scale(score: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, lr: float) -> torch.Tensor:
    """lr·(label - σ(score)) per scored row, zero where the row is padding or |score| >= MAX_EXP."""
    live = weight * (score.abs() < MAX_EXP)
    return (labels - torch.sigmoid(score)).mul_(live).mul_(lr)


REPEATS = 8  # a row met more often in one batch gets its summed step scaled down to REPEATS steps' worth


def damping(rows: torch.Tensor, n: int, uses: torch.Tensor | None = None) -> torch.Tensor:
    """(R,) divisors for the steps of `rows`: 1, or (times the row is used in this batch) / REPEATS; `uses`
    (R,) counts the examples behind each entry (default one each).

    Sequential SGD (the C tool) moves a row a little, re-scores, and so takes smaller steps as it learns;
    a batch adds all of a row's steps at once. For rows met hundreds of times per batch (the root of the
    Huffman tree is on every path) that sum overshoots and diverges; capping it keeps the batch stable.
    """
    counts = torch.bincount(rows, weights=uses, minlength=n)[rows].float()
    return (counts / REPEATS).clamp_(min=1.0)


class Word2Vec(nn.Module):
    def __init__(self, cfg: Word2VecConfig):
        super().__init__()
        self.cfg = cfg
        v, c = max(cfg.vocab_size, 1), cfg.dim
        # gensim 4's start (KeyedVectors' prep_vectors): input vectors uniform in ±1/C, output rows zero. The C
        # tool starts at ±0.5/C; the wider start is gensim's, the reference lmlab is measured against.
        self.in_emb = nn.Parameter((torch.rand(v, c) * 2 - 1) / c, requires_grad=False)
        self.out_emb = nn.Parameter(torch.zeros(cfg.n_out if cfg.vocab_size else 1, c), requires_grad=False)

    def set_counts(self, counts) -> None:
        """What training needs beyond the weights: the noise distribution, or the Huffman paths."""
        if self.cfg.loss == "neg":
            accept, alias = alias_table(noise_distribution(counts, self.cfg.ns_exponent))
            self.accept, self.alias = torch.from_numpy(accept).float(), torch.from_numpy(alias)
        else:
            pts, cds, mask = padded(*huffman_codes(counts))
            self.points, self.labels, self.mask = (torch.from_numpy(pts), 1.0 - torch.from_numpy(cds),
                                                   torch.from_numpy(mask))

    def targets(self, words: torch.Tensor, gen: torch.Generator | None = None):
        """Output rows, labels and weights (B, S) that predict `words` (B,): the word and its noise words,
        or its Huffman path (padded to the deepest path; padding weighs 0)."""
        if self.cfg.loss == "hs":
            return self.points[words], self.labels[words], self.mask[words]
        b, k = words.shape[0], self.cfg.negative
        draw = torch.randint(0, len(self.accept), (b, k), generator=gen)
        noise = torch.where(torch.rand(b, k, generator=gen) < self.accept[draw], draw, self.alias[draw])
        rows = torch.cat([words[:, None], noise], dim=1)                           # (B, 1+K)
        labels = torch.zeros(b, 1 + k)
        labels[:, 0] = 1.0
        weight = torch.ones(b, 1 + k)
        weight[:, 1:] = (noise != words[:, None]).float()  # a noise word equal to the word is skipped
        return rows, labels, weight

    def update_output(self, h: torch.Tensor, rows, labels, weight, lr: float) -> tuple[torch.Tensor, float]:
        """One SGD step on the output rows for inputs h (B, C); returns dL/dh scaled by -lr, and the loss."""
        v = F.embedding(rows, self.out_emb)                                          # (B, S, C)
        score = torch.einsum("bsc,bc->bs", v, h)                                     # (B, S)
        loss = F.binary_cross_entropy_with_logits(score, labels, weight, reduction="sum").item()
        g = step_scale(score, labels, weight, lr)                                    # (B, S)
        step_h = torch.bmm(g.unsqueeze(1), v).squeeze(1)                             # (B, C)
        flat = rows.reshape(-1)
        g = g / damping(flat, self.out_emb.shape[0]).view_as(g)
        self.out_emb.index_add_(0, flat, (g.unsqueeze(2) * h.unsqueeze(1)).reshape(-1, h.shape[1]))
        return step_h, loss

    def skipgram_step(self, context: torch.Tensor, mask: torch.Tensor, words: torch.Tensor, lr: float,
                      gen=None) -> float:
        """Windows (B, 2W) of context ids with a 0/1 mask around centre `words` (B,): each context word's
        vector predicts its centre word (the C tool's order). The centre's output rows — the word and its
        noise words, or its Huffman path — are gathered once per window and shared by the window's pairs
        (Ji et al. 2016's HogBatch): the same loss per pair, but small matrix products instead of one
        gather per pair. Returns the summed loss."""
        h = F.embedding(context, self.in_emb)                                        # (B, 2W, C)
        rows, labels, weight = self.targets(words, gen)                              # (B, S)
        v = F.embedding(rows, self.out_emb)                                          # (B, S, C)
        score = torch.bmm(h, v.transpose(1, 2))                                      # (B, 2W, S)
        w = mask.unsqueeze(2) * weight.unsqueeze(1)                                  # (B, 2W, S)
        target = labels.unsqueeze(1).expand_as(score)
        loss = F.binary_cross_entropy_with_logits(score, target, w, reduction="sum").item()
        g = step_scale(score, target, w, lr)                                         # (B, 2W, S)
        step_h = torch.bmm(g, v)                                                     # (B, 2W, C)
        step_v = torch.bmm(g.transpose(1, 2), h)                                     # (B, S, C)
        flat = rows.reshape(-1)
        uses = (weight * mask.sum(1, keepdim=True)).reshape(-1)  # pairs that update each output row
        step_v /= damping(flat, self.out_emb.shape[0], uses).view(*rows.shape, 1)
        self.out_emb.index_add_(0, flat, step_v.reshape(-1, h.shape[2]))
        self.in_emb.index_add_(0, context.reshape(-1), step_h.reshape(-1, h.shape[2]))  # padding: a zero step
        return loss

    def cbow_step(self, context: torch.Tensor, mask: torch.Tensor, words: torch.Tensor, lr: float, gen=None) -> float:
        """Windows (B, 2W) of context ids with a 0/1 mask: their mean vector predicts `words` (B,). As in
        the C tool and gensim (cbow_mean=1), each context word then gets the whole step of the mean."""
        vecs = F.embedding(context, self.in_emb)                                     # (B, 2W, C)
        h = torch.einsum("bwc,bw->bc", vecs, mask / mask.sum(1, keepdim=True))      # (B, C)
        step_h, loss = self.update_output(h, *self.targets(words, gen), lr)
        steps = (mask.unsqueeze(2) * step_h.unsqueeze(1)).reshape(-1, h.shape[1])    # (B·2W, C); padding: zero
        self.in_emb.index_add_(0, context.reshape(-1), steps)
        return loss
