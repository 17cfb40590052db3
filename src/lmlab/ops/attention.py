"""Scaled dot-product attention, softmax(Q Kᵀ · scale + M) V (Vaswani et al. 2017, "Attention Is All You Need").

Three backends share one signature, `attention(q, k, v, *, ..., backend=...)`:
- `naive`: the textbook formula with an explicit (T_q, T_k) mask matrix, for reading and checking;
- `flash`: tiled online softmax in pure PyTorch (Dao et al. 2022), never builds the T_q × T_k
  matrix, own backward; O(T·W) for a sliding window W (see ops/flash_attention.py);
- `sdpa`:  torch.nn.functional.scaled_dot_product_attention, fused and fast (the default).

Shapes: q (B, H, T_q, D); k, v (B, H_kv, T_k, D) with H % H_kv == 0 -> (B, H, T_q, D).
H_kv < H is grouped-query attention (GQA, Ainslie et al. 2023; MQA when H_kv = 1): key/value
head h serves the G = H / H_kv consecutive query heads h·G … h·G + G − 1, exactly as if k and v
were `repeat_interleave(G, dim=1)`-ed, but no backend makes that copy (sdpa on torch < 2.5 does).

Masking (all bool, True = may attend; the rules live in ops/masks.py): `causal`, `window`,
`key_padding_mask`, `global_mask` (Longformer), a dense `mask`, and `q_offset`, the absolute
position of the first query (default T_k − T_q: the queries are the last positions).

Fully masked rows: a query that may see no key at all (e.g. a padding query under a dense mask, or
causal attention with q_offset < 0) gets output exactly 0 and passes back zero gradient, in every
backend, never NaN. (Internally naive and sdpa let such a row attend everywhere, which keeps the
softmax finite, then zero its output; flash never gives it any weight.)

Dropout (`dropout_p`, only when `training=True`) drops attention weights; `flash` does not
implement it and raises ValueError.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lmlab.ops.backends import BACKENDS
from lmlab.ops.flash_attention import flash_attention
from lmlab.ops.masks import AttentionMask, causal_mask, dense_mask, split_heads

__all__ = ["BACKENDS", "attention", "naive_attention", "sdpa_attention", "flash_attention",
           "AttentionMask", "causal_mask", "dense_mask"]


_SDPA_HAS_GQA = torch.__version__ >= (2, 5)  # `enable_gqa=` arrived in torch 2.5


def naive_attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionMask, *, scale: float,
                    dropout_p: float = 0.0) -> Tensor:
    """softmax(Q Kᵀ · scale + M) V written out step by step, with the full (T_q, T_k) matrices."""
    B, H, T_q, D = q.shape
    H_kv = k.size(1)
    G = H // H_kv                                   # query heads per key/value head
    q = q.unflatten(1, (H_kv, G))                   # (B, H_kv, G, T_q, D), a view
    k, v = k.unsqueeze(2), v.unsqueeze(2)           # (B, H_kv, 1, T_k, D): shared by the G heads
    scores = (q * scale) @ k.transpose(-2, -1)      # (B, H_kv, G, T_q, T_k)
    allowed = spec.dense()                          # (B|1, H|1, T_q|1, T_k) bool; None: all allowed
    if allowed is not None:
        allowed = split_heads(allowed, H_kv, G)     # (B|1, H_kv|1, G|1, T_q, T_k)
        empty = ~allowed.any(-1, keepdim=True)      # (…, T_q, 1): queries that may see no key
        # An all -inf row would give softmax 0/0 = NaN: let empty rows see everything, zero them below.
        scores = scores.masked_fill(~(allowed | empty), float("-inf"))
    weights = torch.softmax(scores, dim=-1)         # (B, H_kv, G, T_q, T_k), rows sum to 1
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = weights @ v                               # (B, H_kv, G, T_q, D)
    if allowed is not None:
        out = out.masked_fill(empty, 0.0)           # empty rows: output 0, and no gradient flows back
    return out.reshape(B, H, T_q, D)


def sdpa_attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionMask, *, scale: float,
                   dropout_p: float = 0.0) -> Tensor:
    """PyTorch's fused kernel; same maths as `naive_attention`."""
    kwargs = dict(dropout_p=dropout_p, scale=scale)
    if q.size(1) != k.size(1):                      # GQA / MQA
        if _SDPA_HAS_GQA:
            kwargs["enable_gqa"] = True
        else:
            G = q.size(1) // k.size(1)
            k, v = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)
    if spec.is_unconstrained:                       # e.g. one decoding query over its cache
        return F.scaled_dot_product_attention(q, k, v, **kwargs)
    if spec.is_plain_causal:                        # lets the kernel skip the upper triangle
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, **kwargs)
    allowed = spec.dense()                          # (B|1, H|1, T_q|1, T_k)
    empty = ~allowed.any(-1, keepdim=True)          # (B|1, H|1, T_q|1, 1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed | empty, **kwargs)
    return out.masked_fill(empty, 0.0)              # as in naive_attention


_BACKEND_FNS = {"naive": naive_attention, "flash": flash_attention, "sdpa": sdpa_attention}


def attention(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, key_padding_mask: Tensor | None = None,
              mask: Tensor | None = None, window: int | None = None, global_mask: Tensor | None = None,
              q_offset: int | None = None, dropout_p: float = 0.0, training: bool = False,
              backend: str = "sdpa", scale: float | None = None) -> Tensor:
    """Attention of q (B, H, T_q, D) over k, v (B, H_kv, T_k, D) -> (B, H, T_q, D); see the module docstring.

    causal: key position ≤ query position.  key_padding_mask (B, T_k): True = real token.
    mask: bool, broadcastable to (B, H, T_q, T_k), True = may attend.  window: |i − j| < W
    (0 ≤ i − j < W with causal).  global_mask (B, T_k): Longformer global tokens (self-attention
    only).  q_offset: absolute position of the first query (default T_k − T_q).
    scale: default 1/√D.  dropout_p: on the attention weights, only when training.
    """
    if backend not in _BACKEND_FNS:
        raise ValueError(f"unknown attention backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if q.dim() != 4 or k.dim() != 4 or k.shape != v.shape:
        raise ValueError(f"expected q (B, H, T_q, D) and k, v (B, H_kv, T_k, D), got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    B, H, T_q, D = q.shape
    if k.size(0) != B or k.size(3) != D or H % k.size(1) != 0:
        raise ValueError(f"k, v {tuple(k.shape)} do not fit q {tuple(q.shape)}: need the same B and D and "
                         "n_heads divisible by n_kv_heads")
    spec = AttentionMask.build(T_q, k.size(2), causal=causal, key_padding_mask=key_padding_mask, mask=mask,
                               window=window, global_mask=global_mask, q_offset=q_offset, batch=B,
                               n_heads=H, device=q.device)
    scale = D ** -0.5 if scale is None else scale
    p = dropout_p if training else 0.0
    return _BACKEND_FNS[backend](q, k, v, spec, scale=scale, dropout_p=p)
