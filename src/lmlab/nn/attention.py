"""Multi-head attention (Vaswani et al. 2017, §3.2.2): project, split into heads, attend, merge.

One module for every model: self-attention (x attends to x) or cross-attention (x attends to
`memory`), causal or bidirectional, any mask the kernels in lmlab.ops.attention understand
(padding, sliding window, Longformer global tokens, a dense mask) and any backend (naive,
flash, sdpa, or auto: the fastest measured here), chosen per model or per call. `n_kv_heads < n_heads` shares each key/value head
among a group of query heads (GQA, Ainslie et al. 2023; MQA when n_kv_heads = 1). With a
`LayerKV` cache the new keys and values are appended and the queries attend to everything
cached (incremental decoding); with a `rotary` module queries and keys are rotated by position.
In training, self-attention computes q, k and v with one product against the three weights stacked
([W_q; W_k; W_v], (C + 2·kv_dim, C)), as GPT-2's c_attn does: fewer, larger GEMMs forward and backward,
while the module keeps three Linear layers (checkpoints, LoRA targets and converters see q/k/v apart).
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.nn.kv_cache import LayerKV
from lmlab.nn.linear import Linear
from lmlab.ops.attention import attention
from lmlab.ops.linear import linear


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int | None = None, dropout: float = 0.0,
                 bias: bool = True, causal: bool = False, backend: str = "auto", window: int = 0,
                 rotary: nn.Module | None = None):
        super().__init__()
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads or n_heads
        assert d_model % n_heads == 0 and n_heads % self.n_kv_heads == 0
        self.head_dim = d_model // n_heads
        self.causal, self.backend, self.window = causal, backend, window or None
        self.dropout = dropout
        kv_dim = self.n_kv_heads * self.head_dim
        self.q_proj = Linear(d_model, d_model, bias=bias)
        self.k_proj = Linear(d_model, kv_dim, bias=bias)
        self.v_proj = Linear(d_model, kv_dim, bias=bias)
        self.out_proj = Linear(d_model, d_model, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)
        self.rotary = rotary  # shared by all layers; not a parameter

    def _heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n, self.head_dim).transpose(1, 2)  # (B, n, T, D)

    def _stacked_qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """q, k, v (B, T, ·) of x by one product, where that is the same maths and pays: training (decoding
        would copy the weights for every token), three plain Linear layers (no LoRA, NF4, hooks); else None."""
        parts = (self.q_proj, self.k_proj, self.v_proj)
        if not (self.training and torch.is_grad_enabled()) or any(
                type(m) is not Linear or m._forward_hooks or m._forward_pre_hooks for m in parts):
            return None
        weight = torch.cat([m.weight for m in parts])                          # (C + 2·kv_dim, C)
        bias = None if self.q_proj.bias is None else torch.cat([m.bias for m in parts])
        return linear(x, weight, bias).split([m.out_features for m in parts], dim=-1)

    def memory_kv(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of src (B, S, C), split into heads: two (B, H_kv, S, D) tensors."""
        return self._heads(self.k_proj(src), self.n_kv_heads), self._heads(self.v_proj(src), self.n_kv_heads)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, *, cache: LayerKV | None = None,
                positions: torch.Tensor | None = None, key_padding_mask: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, global_mask: torch.Tensor | None = None,
                backend: str | None = None, memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> torch.Tensor:
        """x (B, T, C); memory (B, S, C) for cross-attention; cache: this layer's KV cache;
        positions (T,) or (B, T) for rotary embeddings (default: after what the cache holds);
        key_padding_mask (B, T_k) and global_mask (B, T_k) bool over all keys, cached ones included.
        memory_kv: cross-attention keys and values already projected by `memory_kv(memory)`, used
        instead of projecting `memory` again (a decoder step reuses the encoder's, see seq2seq)."""
        B, T, C = x.shape
        stacked = self._stacked_qkv(x) if memory is None and memory_kv is None else None
        if stacked is not None:                               # q (B, T, C), k and v (B, T, kv_dim)
            q, k, v = self._heads(stacked[0], self.n_heads), *(self._heads(t, self.n_kv_heads) for t in stacked[1:])
        else:
            q = self._heads(self.q_proj(x), self.n_heads)     # (B, H, T, D)
            k, v = memory_kv if memory_kv is not None else self.memory_kv(x if memory is None else memory)
        past = cache.length if cache is not None else 0
        if self.rotary is not None:
            if positions is None:
                positions = torch.arange(past, past + T, device=x.device)
            q, k = self.rotary(q, positions), self.rotary(k, positions)
        if cache is not None:
            k, v = cache.update(k, v)                         # (B, H_kv, past + T, D)
        y = attention(q, k, v, causal=self.causal, key_padding_mask=key_padding_mask, mask=mask,
                      window=self.window, global_mask=global_mask, dropout_p=self.dropout,
                      training=self.training, backend=backend or self.backend)  # (B, H, T, D)
        del q, k, v  # free them before the next two (B, T, C) buffers: the allocator can reuse the memory
        y = y.transpose(1, 2).reshape(B, T, C)                # merge heads: (B, T, C)
        return self.resid_dropout(self.out_proj(y))
