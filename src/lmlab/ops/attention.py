"""Scaled dot-product attention, softmax(Q Kᵀ / √d_k + M) V (Vaswani et al. 2017, "Attention Is All You Need").

Two backends share one signature:
- `naive`: the textbook formula with an explicit (T_q, T_k) mask matrix, for reading and checking;
- `sdpa`:  torch.nn.functional.scaled_dot_product_attention, fused and fast (the default).
Shapes: q (B, H, T_q, D), k and v (B, H, T_k, D) -> (B, H, T_q, D).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BACKENDS = ("naive", "sdpa")


def causal_mask(t_q: int, t_k: int, device=None) -> torch.Tensor:
    """Boolean (T_q, T_k) mask, True where a query may look: key position ≤ query position.

    With t_k > t_q (cached keys before the queries) the queries are the last t_q positions.
    """
    offset = t_k - t_q
    q_pos = torch.arange(t_q, device=device)[:, None] + offset
    k_pos = torch.arange(t_k, device=device)[None, :]
    return k_pos <= q_pos


def naive_attention(q, k, v, mask=None, causal=False, dropout_p=0.0, training=False):
    """softmax(Q Kᵀ / √d_k + M) V written out step by step. `mask`: bool, True = may attend."""
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (B, H, T_q, T_k)
    if causal:
        cm = causal_mask(q.size(-2), k.size(-2), q.device)
        mask = cm if mask is None else mask & cm
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0 and training:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v  # (B, H, T_q, D)


def sdpa_attention(q, k, v, mask=None, causal=False, dropout_p=0.0, training=False):
    """PyTorch's fused kernel; same maths as `naive_attention`."""
    p = dropout_p if training else 0.0
    if causal and mask is None and q.size(-2) == k.size(-2):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
    if causal:
        cm = causal_mask(q.size(-2), k.size(-2), q.device)
        mask = cm if mask is None else mask & cm
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)


def attention(q, k, v, mask=None, causal=False, dropout_p=0.0, training=False, backend="sdpa"):
    """Dispatch to a backend by name (see BACKENDS)."""
    if backend == "sdpa":
        return sdpa_attention(q, k, v, mask, causal, dropout_p, training)
    if backend == "naive":
        return naive_attention(q, k, v, mask, causal, dropout_p, training)
    raise ValueError(f"unknown attention backend '{backend}'; choose from {', '.join(BACKENDS)}")
