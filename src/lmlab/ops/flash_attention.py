"""FlashAttention in pure PyTorch: tiled attention with an online softmax (Dao et al. 2022).

The textbook attention builds the (T_q, T_k) score matrix S = Q Kᵀ · scale, its softmax P and,
for backward, keeps P around: O(T²) memory. FlashAttention walks over blocks of keys instead and
keeps, for every query row, only three running quantities:

    m      the largest score seen so far                   (B, H, T_q)
    denom  Σ exp(s − m) over those keys (ℓ in the paper)   (B, H, T_q)
    acc    Σ exp(s − m) · v over those keys                (B, H, T_q, D)

When a new block raises the maximum from m to m', the old sums are rescaled by exp(m − m'),
so at the end O = acc / denom is exactly softmax(S) V. Forward saves only O and the logsumexp
L = m + log denom per row; backward recomputes each tile's probabilities P = exp(S − L) and
accumulates, with D = rowsum(dO ∘ O) (which equals rowsum(P ∘ dP)):

    dV += Pᵀ dO,   dP = dO Vᵀ,   dS = P ∘ (dP − D),   dQ += dS K · scale,   dK += dSᵀ Q · scale.

Loop order (fast in Python): the outer loop runs over key blocks of `block_size` columns, and
for each block one tile covers every query row that may see any key of the block, in slices of
at most `q_block_size` rows. With causal attention that is the rows at or after the block; with
a sliding window W only the band of rows within W of it, so sliding-window attention costs
O(T·W) time and memory instead of O(T²). Blocks that no query may see are skipped. Longformer
global tokens add tiles: the rows of global queries for every key block, and every row for the
key blocks that hold a global key. `flash_tiles` returns this plan; the mask inside each tile
comes from `AttentionMask.tile` (ops/masks.py), the same function the naive backend uses.

A query row that may see no key keeps denom = 0: its output is 0 and its gradient 0 (L = +∞ makes
every P = exp(S − L) of that row 0 in backward). Tiles are computed in fp32 whatever the input
dtype (bf16/fp16 inputs are cast up), and the outputs/gradients are returned in the input dtype.
Dropout on the attention weights is not implemented (ValueError).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lmlab.ops.masks import AttentionMask, Index, split_heads, take

BLOCK_SIZE = 128     # keys per tile
Q_BLOCK_SIZE = 1024  # at most this many query rows per tile


def _chunks(rows: Index, size: int | None) -> list[Index]:
    """Split a slice or an index tensor of rows into pieces of at most `size` rows."""
    n = rows.stop - rows.start if isinstance(rows, slice) else rows.numel()
    if n == 0:
        return []
    if size is None or n <= size:
        return [rows]
    if isinstance(rows, slice):
        return [slice(s, min(s + size, rows.stop)) for s in range(rows.start, rows.stop, size)]
    return list(rows.split(size))


def flash_tiles(spec: AttentionMask, block_size: int = BLOCK_SIZE,
                q_block_size: int | None = Q_BLOCK_SIZE) -> list[tuple[Index, slice]]:
    """The plan: a list of (query rows, key columns) tiles covering every allowed pair exactly once.

    Rows are a slice (a band of consecutive rows) or a LongTensor (global query rows outside the band).
    Global tokens are taken as the union over the batch; the tile mask restores each sequence's own.
    """
    global_rows = None
    global_blocks: set[int] = set()
    if spec.global_mask is not None:
        global_rows = spec.global_mask.any(0).nonzero().squeeze(1)  # (n_global,), positions = rows = keys
        global_blocks = {int(i) // block_size for i in global_rows.tolist()}
    tiles = []
    for c0 in range(0, spec.t_k, block_size):
        c1 = min(c0 + block_size, spec.t_k)
        if c0 // block_size in global_blocks:
            lo, hi = 0, spec.t_q                        # a global key is seen by every query
        else:
            lo, hi = spec.visible_rows(c0, c1)          # the band that causal/window allow
        row_sets = _chunks(slice(lo, hi), q_block_size)
        if global_rows is not None and (lo, hi) != (0, spec.t_q):
            outside = global_rows[(global_rows < lo) | (global_rows >= hi)]  # global queries see every key
            row_sets += _chunks(outside, q_block_size)
        tiles += [(rows, slice(c0, c1)) for rows in row_sets]
    return tiles


def _tile_scores(q: Tensor, k: Tensor, rows: Index, cols: slice, spec: AttentionMask, scale: float) -> Tensor:
    """Masked scores S = Q Kᵀ · scale of one tile: (B, H_kv, G, n_rows, n_cols), -inf where not allowed."""
    s = (take(q, 3, rows) @ k[..., cols, :].transpose(-2, -1)) * scale
    allowed = spec.tile(rows, cols)                     # (B|1, H|1, r|1, c) or None
    if allowed is not None:
        s = s.masked_fill(~split_heads(allowed, k.size(1), q.size(2)), float("-inf"))
    return s


def _put_(x: Tensor, dim: int, rows: Index, value: Tensor) -> None:
    """x[rows] = value along `dim`, in place."""
    if isinstance(rows, slice):
        x.narrow(dim, rows.start, rows.stop - rows.start).copy_(value)
    else:
        x.index_copy_(dim, rows, value)


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, spec, scale, tiles):
        B, H, T_q, D = q.shape
        H_kv = k.size(1)
        qf = q.unflatten(1, (H_kv, H // H_kv)).float()  # (B, H_kv, G, T_q, D): G query heads per kv head
        kf, vf = k.unsqueeze(2).float(), v.unsqueeze(2).float()  # (B, H_kv, 1, T_k, D)
        m = qf.new_full(qf.shape[:-1], float("-inf"))   # (B, H_kv, G, T_q) running row maximum
        denom = qf.new_zeros(qf.shape[:-1])             # (B, H_kv, G, T_q) running Σ exp(s - m)
        acc = torch.zeros_like(qf)                      # (B, H_kv, G, T_q, D) running Σ exp(s - m) v
        for rows, cols in tiles:
            s = _tile_scores(qf, kf, rows, cols, spec, scale)        # (B, H_kv, G, r, c)
            m_old = take(m, 3, rows)                                # (B, H_kv, G, r)
            m_new = torch.maximum(m_old, s.amax(-1))
            m_safe = m_new.masked_fill(m_new == float("-inf"), 0.0)  # rows with no key yet: avoid -inf - -inf
            p = torch.exp(s - m_safe[..., None])                     # (B, H_kv, G, r, c), 0 where masked
            alpha = torch.exp(m_old - m_safe)                        # rescales the old sums (0 if none)
            _put_(denom, 3, rows, alpha * take(denom, 3, rows) + p.sum(-1))
            _put_(acc, 3, rows, alpha[..., None] * take(acc, 3, rows) + p @ vf[..., cols, :])
            _put_(m, 3, rows, m_new)
        seen = denom > 0                                                 # rows with at least one visible key
        out = acc / torch.where(seen, denom, 1.0)[..., None]             # empty rows: acc = 0 -> out = 0
        lse = torch.where(seen, m + torch.log(denom), float("inf"))      # logsumexp; +inf makes P = 0 in backward
        out = out.reshape(B, H, T_q, D).to(q.dtype)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.spec, ctx.scale, ctx.tiles = spec, scale, tiles
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        spec, scale = ctx.spec, ctx.scale
        B, H, T_q, D = q.shape
        H_kv = k.size(1)
        G = H // H_kv
        qf = q.unflatten(1, (H_kv, G)).float()                        # (B, H_kv, G, T_q, D)
        kf, vf = k.unsqueeze(2).float(), v.unsqueeze(2).float()     # (B, H_kv, 1, T_k, D)
        do = dout.unflatten(1, (H_kv, G)).float()                   # (B, H_kv, G, T_q, D)
        delta = (do * out.unflatten(1, (H_kv, G)).float()).sum(-1)  # (B, H_kv, G, T_q): D = rowsum(dO ∘ O)
        dq = torch.zeros_like(qf)
        dk = torch.zeros_like(kf)                                   # (B, H_kv, 1, T_k, D)
        dv = torch.zeros_like(vf)
        for rows, cols in ctx.tiles:
            s = _tile_scores(qf, kf, rows, cols, spec, scale)      # (B, H_kv, G, r, c)
            p = torch.exp(s - take(lse, 3, rows)[..., None])      # the forward's probabilities
            do_r = take(do, 3, rows)                              # (B, H_kv, G, r, D)
            # the G query heads of a group all used the same k, v: their contributions add up
            dv[..., cols, :] += (p.transpose(-2, -1) @ do_r).sum(2, keepdim=True)
            dp = do_r @ vf[..., cols, :].transpose(-2, -1)         # (B, H_kv, G, r, c)
            ds = p * (dp - take(delta, 3, rows)[..., None])       # gradient of the scores
            _put_(dq, 3, rows, take(dq, 3, rows) + (ds @ kf[..., cols, :]) * scale)
            dk[..., cols, :] += (ds.transpose(-2, -1) @ take(qf, 3, rows)).sum(2, keepdim=True) * scale
        return (dq.reshape(B, H, T_q, D).to(q.dtype), dk.squeeze(2).to(k.dtype), dv.squeeze(2).to(v.dtype),
                None, None, None)


def flash_attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionMask, *, scale: float,
                    dropout_p: float = 0.0, block_size: int = BLOCK_SIZE,
                    q_block_size: int | None = Q_BLOCK_SIZE) -> Tensor:
    """Tiled exact attention, q (B, H, T_q, D), k, v (B, H_kv, T_k, D) -> (B, H, T_q, D).

    Same maths as `naive_attention`; block_size keys and at most q_block_size query rows per tile.
    """
    if dropout_p > 0.0:
        raise ValueError("the flash backend does not implement attention dropout; use backend='sdpa' or "
                         "'naive' when training with dropout_p > 0")
    return _FlashAttention.apply(q, k, v, spec, scale, flash_tiles(spec, block_size, q_block_size))
