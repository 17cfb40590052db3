"""Named word2vec shapes. vocab_size is set from the corpus when training; the published ones keep
their vocabulary so that count_parameters gives the size of the released vectors.

"google-news": the 3,000,000 × 300 vectors Mikolov et al. released (skip-gram, negative sampling).
"""

from __future__ import annotations

from lmlab.errors import LmlabError
from lmlab.models.word2vec.config import Word2VecConfig

PRESETS: dict[str, dict] = {
    "sgns-100": dict(arch="skipgram", loss="neg", dim=100, window=5, negative=5),   # gensim's defaults, sg=1
    "cbow-100": dict(arch="cbow", loss="neg", dim=100, window=5, negative=5),       # gensim's defaults
    "sghs-100": dict(arch="skipgram", loss="hs", dim=100, window=5),
    "sgns-300": dict(arch="skipgram", loss="neg", dim=300, window=5, negative=5),
    "google-news": dict(arch="skipgram", loss="neg", dim=300, window=5, negative=5, vocab_size=3_000_000),
}


def preset(name: str, **overrides) -> Word2VecConfig:
    if name not in PRESETS:
        raise LmlabError(f"unknown preset '{name}'; choose from: {', '.join(PRESETS)}")
    return Word2VecConfig(**{**PRESETS[name], **overrides})


def count_parameters(cfg: Word2VecConfig) -> int:
    """Input vectors V·C plus output rows (V for negative sampling, V-1 inner nodes for hs) · C."""
    return (cfg.vocab_size + (cfg.n_out if cfg.vocab_size else 0)) * cfg.dim


def multiply_adds_per_pair(cfg: Word2VecConfig, mean_path: float = 0.0) -> int:
    """Multiply-adds of one (input, word) example: per output row a score (C), the input's step (C) and
    the row's step (C); rows = 1 + negative, or the word's Huffman path (mean_path)."""
    rows = 1 + cfg.negative if cfg.loss == "neg" else mean_path
    return round(3 * cfg.dim * rows)
