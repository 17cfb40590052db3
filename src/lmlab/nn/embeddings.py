"""Position embeddings: learned (GPT) or fixed sinusoids (Vaswani et al. 2017, §3.5).

PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LearnedPositionalEmbedding(nn.Embedding):
    """One trainable vector per position 0 … max_seq_len-1."""

    def __init__(self, max_seq_len: int, d_model: int):
        super().__init__(max_seq_len, d_model)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:  # (T,) -> (T, C)
        return super().forward(positions)


def sinusoidal_table(max_seq_len: int, d_model: int) -> torch.Tensor:
    """The (max_seq_len, d_model) table of the paper: sines on even dims, cosines on odd."""
    pos = torch.arange(max_seq_len, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_seq_len, d_model)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table


class SinusoidalPositionalEmbedding(nn.Module):
    """Fixed, not trained; a buffer that is not saved with the weights (it is recomputed)."""

    def __init__(self, max_seq_len: int, d_model: int):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(max_seq_len, d_model), persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:  # (T,) -> (T, C)
        return self.table[positions]


def positional_embedding(kind: str, max_seq_len: int, d_model: int) -> nn.Module:
    if kind == "learned":
        return LearnedPositionalEmbedding(max_seq_len, d_model)
    if kind == "sinusoidal":
        return SinusoidalPositionalEmbedding(max_seq_len, d_model)
    raise ValueError(f"unknown positional embedding '{kind}' (learned, sinusoidal)")
