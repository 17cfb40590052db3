"""Multi-head attention (Vaswani et al. 2017, §3.2.2): project, split into heads, attend, merge.

One module for every model: self-attention (x attends to x) or cross-attention (x attends to
`memory`), causal or bidirectional. `n_kv_heads < n_heads` shares each key/value head among a
group of query heads (GQA, Ainslie et al. 2023; MQA when n_kv_heads = 1).
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.ops.attention import attention


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int | None = None, dropout: float = 0.0,
                 bias: bool = True, causal: bool = False, backend: str = "sdpa"):
        super().__init__()
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads or n_heads
        assert d_model % n_heads == 0 and n_heads % self.n_kv_heads == 0
        self.head_dim = d_model // n_heads
        self.causal = causal
        self.backend = backend
        self.dropout = dropout
        kv_dim = self.n_kv_heads * self.head_dim
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n, self.head_dim).transpose(1, 2)  # (B, n, T, D)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, C); memory: (B, S, C) for cross-attention; mask: bool, True = may attend."""
        B, T, C = x.shape
        src = x if memory is None else memory
        q = self._heads(self.q_proj(x), self.n_heads)         # (B, H, T, D)
        k = self._heads(self.k_proj(src), self.n_kv_heads)    # (B, H_kv, S, D)
        v = self._heads(self.v_proj(src), self.n_kv_heads)
        if self.n_kv_heads != self.n_heads:                   # each kv head serves a group of q heads
            group = self.n_heads // self.n_kv_heads
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        y = attention(q, k, v, mask=mask, causal=self.causal, dropout_p=self.dropout,
                      training=self.training, backend=self.backend)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)                # merge heads: (B, T, C)
        return self.resid_dropout(self.out_proj(y))
