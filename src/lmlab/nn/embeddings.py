"""Position information: learned (GPT), fixed sinusoids (Vaswani et al. 2017, §3.5), rotary (RoPE).

PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)).
Learned and sinusoidal tables are added to the token embeddings; rotary embeddings instead
rotate the queries and keys inside attention (see RotaryEmbedding).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LearnedPositionalEmbedding(nn.Embedding):
    """One trainable vector per position 0 … max_seq_len-1."""

    def __init__(self, max_seq_len: int, d_model: int):
        super().__init__(max_seq_len, d_model)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:  # (T,) or (B, T) -> (…, C)
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

    def forward(self, positions: torch.Tensor) -> torch.Tensor:  # (T,) or (B, T) -> (…, C)
        return self.table[positions]


def positional_embedding(kind: str, max_seq_len: int, d_model: int) -> nn.Module:
    if kind == "learned":
        return LearnedPositionalEmbedding(max_seq_len, d_model)
    if kind == "sinusoidal":
        return SinusoidalPositionalEmbedding(max_seq_len, d_model)
    raise ValueError(f"unknown positional embedding '{kind}' (learned, sinusoidal)")


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al. 2021, "RoFormer"), applied to queries and keys.

    Each pair of channels (i, i + D/2) of a head is rotated by the angle pos · θ^(-2i/D), so the
    dot product q·k depends on the positions only through their difference. The pairing by
    halves (not adjacent channels) is the Hugging Face Llama convention, so its weights load as
    they are. The cos/sin tables are kept in fp32 on purpose: they are plain attributes, not
    buffers, so `model.to(torch.bfloat16)` does not round the angles (they follow the device).
    """

    def __init__(self, head_dim: int, max_seq_len: int, theta: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head_dim, got {head_dim}")
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # (D/2,)
        angles = torch.arange(max_seq_len, dtype=torch.float32)[:, None] * inv_freq  # (T_max, D/2)
        angles = torch.cat((angles, angles), dim=-1)                                  # (T_max, D)
        self.cos, self.sin = angles.cos(), angles.sin()

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x (B, H, T, D); positions (T,) or (B, T) -> x rotated, same shape and dtype."""
        if self.cos.device != x.device:
            self.cos, self.sin = self.cos.to(x.device), self.sin.to(x.device)
        cos, sin = self.cos[positions], self.sin[positions]  # (T, D) or (B, T, D)
        if cos.dim() == 3:
            cos, sin = cos[:, None], sin[:, None]             # (B, 1, T, D)
        return (x.float() * cos + rotate_half(x.float()) * sin).to(x.dtype)
