"""Word2VecConfig: the shape and objective of a word2vec model (Mikolov et al. 2013a, 2013b).

"Efficient Estimation of Word Representations in Vector Space" (CBOW, skip-gram) and "Distributed
Representations of Words and Phrases and their Compositionality" (negative sampling, sub-sampling).
Defaults follow the original C tool and gensim: dim 100, window 5, 5 negatives, unigram^0.75.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.config import check_choices

MAX_EXP = 6.0  # gensim's and the C tool's bound: a row scoring |v·h| >= MAX_EXP is not updated (σ is saturated)


@dataclass(frozen=True)
class Word2VecConfig:
    arch: Literal["skipgram", "cbow"] = "skipgram"  # centre -> each context word, or mean(context) -> centre
    loss: Literal["neg", "hs"] = "neg"      # negative sampling, or hierarchical softmax over a Huffman tree
    dim: int = 100                          # vector size (the d_model of a word2vec model)
    window: int = 5                         # largest distance to a context word; shrunk at random per centre
    negative: int = 5                       # noise words per positive pair (loss neg)
    ns_exponent: float = 0.75               # noise distribution: unigram counts to this power
    vocab_size: int = 0                     # set from the corpus when training (0 = not yet known)

    def __post_init__(self):
        check_choices(self, "arch", "loss")
        if self.dim < 1 or self.window < 1:
            raise ValueError(f"dim and window must be >= 1; got dim {self.dim}, window {self.window}")
        if self.loss == "neg" and self.negative < 1:
            raise ValueError(f"loss neg needs negative >= 1; got {self.negative}")
        if self.vocab_size < 0:
            raise ValueError(f"vocab_size must be >= 0; got {self.vocab_size}")

    @property
    def n_out(self) -> int:
        """Rows of the output matrix: one per word (neg), one per inner node of the Huffman tree (hs)."""
        return self.vocab_size if self.loss == "neg" else max(self.vocab_size - 1, 1)


@dataclass(frozen=True)
class Word2VecTrainConfig:
    """How word2vec trains: plain SGD, the rate decayed linearly from lr to min_lr over all epochs. engine
    numba is the C tool's and gensim's scheme (one example at a time, sequential in a thread); torch is the
    batched update of model.py (HogBatch: windows share output rows, summed steps), the reference."""
    epochs: int = 5
    lr: float = 0.025                       # the C tool's rate for skip-gram (it uses 0.05 for CBOW)
    min_lr: float = 0.0001
    engine: Literal["numba", "torch"] = "numba"  # per-pair SGD kernel in threads, or batched torch steps
    batch_size: int = 256                   # torch engine: centre words per update (each brings ~window pairs)
    seed: int = 1
    workers: int = 2                        # threads (numba) or processes (torch) on shared weights (Hogwild)
    time_budget: float | None = None        # seconds; stop cleanly after this much training

    def __post_init__(self):
        check_choices(self, "engine")
        if self.epochs < 1 or self.batch_size < 1 or self.workers < 1:
            raise ValueError("epochs, batch_size and workers must be >= 1")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr; got min_lr {self.min_lr}, lr {self.lr}")
