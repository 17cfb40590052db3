"""Attention as two batched matrix products with a hand-written backward: the fast path for short sequences.

    S = Q Kᵀ · scale + M        (N, T_q, T_k)   one baddbmm; M is 0 where a query may look, −∞ elsewhere
    P = softmax(S)              (N, T_q, T_k)   saved for backward
    O = P V                     (N, T_q, D)     one bmm

and backward, from P alone (nothing recomputed):

    dV = Pᵀ dO,   dP = dO Vᵀ,   dS = P ∘ (dP − rowsum(dP ∘ P)),   dQ = dS K · scale,   dK = dSᵀ Q · scale.

The maths is the naive backend's; what differs is the cost. autograd's version of the textbook formula runs
a dozen ops each way (scale, mask, softmax, the products, views) and sdpa's fused CPU kernel tiles and
recomputes. At T = 64 (char-level Tiny Shakespeare) the scores of one layer are 48 × 64 × 64 values, and a
handful of large batched products beat both on the Xeon measured: 2.0 vs 2.6 ms (sdpa) for forward +
backward of a layer in fp32, 2.1 vs 15.0 ms in bf16 (12 × 4 heads × 64 × 32, one thread;
benchmarks/attention_backends.py, BENCHMARKS.md), while at T = 256 in fp32 sdpa wins: `auto` measures
which, per machine. The price is memory: P, T_k values
per head and query, saved for backward (where flash and sdpa keep one logsumexp), so `auto` offers it in
training only while the scores stay small (ops/attention.py).

Grouped-query attention views the G query heads of one key/value head as G·T_q rows of one matrix, so no
backend-level copy of k, v is made. Fully masked rows are handled by the caller, as in the naive backend.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lmlab.ops.masks import AttentionMask, split_heads


class _BmmAttention(torch.autograd.Function):
    """softmax(Q Kᵀ · scale + M) V for q (N, T_q, D), k, v (N, T_k, D), M broadcastable to (N, T_q, T_k)."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, scale: float) -> Tensor:
        kt = k.transpose(1, 2)                                        # (N, D, T_k), a view
        if bias is None:
            scores = torch.bmm(q, kt).mul_(scale)                     # (N, T_q, T_k)
        else:
            scores = torch.baddbmm(bias, q, kt, alpha=scale)          # M + Q Kᵀ · scale, one product
        probs = torch.softmax(scores, dim=-1)                         # (N, T_q, T_k)
        ctx.save_for_backward(q, k, v, probs)
        ctx.scale = scale
        return torch.bmm(probs, v)                                    # (N, T_q, D)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out: Tensor):
        q, k, v, probs = ctx.saved_tensors
        d_out = d_out.contiguous()
        d_v = torch.bmm(probs.transpose(1, 2), d_out)                 # Pᵀ dO          (N, T_k, D)
        d_probs = torch.bmm(d_out, v.transpose(1, 2))                 # dO Vᵀ          (N, T_q, T_k)
        # P ∘ (dP − rowsum(dP ∘ P)): softmax's backward, one fused kernel (the one autograd's softmax uses)
        d_scores = torch._softmax_backward_data(d_probs, probs, -1, probs.dtype)
        d_q = torch.bmm(d_scores, k).mul_(ctx.scale)                  # dS K · scale   (N, T_q, D)
        d_k = torch.bmm(d_scores.transpose(1, 2), q).mul_(ctx.scale)  # dSᵀ Q · scale  (N, T_k, D)
        return d_q, d_k, d_v, None, None


_masks: dict[tuple, tuple[Tensor | None, Tensor | None]] = {}   # the rule-only kinds (causal, window), made once


def _mask(spec: AttentionMask, batch: int, h_kv: int, group: int, dtype: torch.dtype, device: torch.device
          ) -> tuple[Tensor | None, Tensor | None]:
    """The additive mask (0 / −∞) for the (B·H_kv, G·T_q, T_k) scores, and the queries that may see no key
    (B|1, H|1, T_q, 1) bool, or None for either when there is none. Such queries are let see every key (a
    row of −∞ would make softmax 0/0) and zeroed by the caller, as in the naive backend."""
    rule_only = spec.key_padding_mask is None and spec.mask is None and spec.global_mask is None
    key = (spec.t_q, spec.t_k, spec.q_offset, spec.causal, spec.window, group, dtype, device) if rule_only else None
    if key in _masks:
        return _masks[key]
    allowed = spec.dense()                                              # (B|1, H|1, T_q|1, T_k) bool or None
    bias = empty = None
    if allowed is not None:
        empty = ~allowed.any(-1, keepdim=True)
        if empty.any():
            allowed = allowed | empty
        else:
            empty = None
        bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))
        bias = split_heads(bias, h_kv, group)                           # (B|1, H_kv|1, G|1, T_q|1, T_k)
        plain = bias.size(0) == 1 and bias.size(1) == 1                 # one mask for every sequence and head
        shape = (1, 1) if plain else (batch, h_kv)                      # else one per score matrix
        bias = bias.expand(*shape, group, spec.t_q, spec.t_k)           # the G heads share a key/value head
        bias = bias.reshape(-1, group * spec.t_q, spec.t_k)             # (1 | B·H_kv, G·T_q, T_k)
    if key is not None and len(_masks) < 64:
        _masks[key] = (bias, empty)
    return bias, empty


def bmm_attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionMask, *, scale: float,
                  dropout_p: float = 0.0) -> Tensor:
    """q (B, H, T_q, D), k, v (B, H_kv, T_k, D) -> (B, H, T_q, D); same maths as `naive_attention`."""
    if dropout_p > 0.0:
        raise ValueError("the bmm attention backend does not implement attention dropout; use sdpa or naive")
    B, H, T_q, D = q.shape
    H_kv, T_k = k.size(1), k.size(2)
    G = H // H_kv
    bias, empty = _mask(spec, B, H_kv, G, q.dtype, q.device)
    q3 = q.reshape(B * H_kv, G * T_q, D)                                # the G heads of a key/value head as rows
    k3, v3 = k.reshape(B * H_kv, T_k, D), v.reshape(B * H_kv, T_k, D)
    out = _BmmAttention.apply(q3, k3, v3, bias, scale).view(B, H, T_q, D)
    return out if empty is None else out.masked_fill(empty, 0.0)
