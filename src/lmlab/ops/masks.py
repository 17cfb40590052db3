"""Attention masks: which key may each query look at? One definition shared by every backend.

A mask here is boolean, True = "may attend". Positions: query row r sits at absolute position
r + q_offset in key coordinates (key column c sits at position c). q_offset defaults to T_k − T_q,
so the queries are the last T_q positions, as when decoding with a KV cache.

The constraints, and how they combine (all with AND, except that global tokens override 1–2):
1. causal:  key position ≤ query position.
2. window W (sliding-window / local attention, Beltagy et al. 2020; Mistral's convention with
   causal): |i − j| < W, or 0 ≤ i − j < W together with causal.
3. global_mask (B, T_k), Longformer's global tokens (Beltagy et al. 2020): a global token
   attends to every key and every query attends to it, whatever 1–2 say. Self-attention only.
4. key_padding_mask (B, T_k): True = a real token, False = padding nobody may attend to.
5. mask: any dense bool tensor broadcastable to (B, H, T_q, T_k), the general escape hatch.

`AttentionMask` holds the constraints and answers for any block of (query rows, key columns) with
`tile(rows, cols)`. The naive and sdpa backends ask for the whole matrix (`dense()`); the tiled
"flash" backend asks block by block and uses `visible_rows` to skip blocks that are all False, so
every backend follows the same rules by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

Index = slice | Tensor  # a run of rows/columns (slice with start and stop) or a 1-D LongTensor of indices


def take(x: Tensor, dim: int, idx: Index) -> Tensor:
    """x restricted to the indices `idx` along `dim` (a view for a slice, a copy for a LongTensor)."""
    if isinstance(idx, slice):
        return x.narrow(dim, idx.start, idx.stop - idx.start)
    return x.index_select(dim, idx)


def _positions(idx: Index, device) -> Tensor:
    if isinstance(idx, slice):
        return torch.arange(idx.start, idx.stop, device=device)
    return idx


def _and(a: Tensor | None, b: Tensor) -> Tensor:
    return b if a is None else a & b


@dataclass(frozen=True, eq=False)
class AttentionMask:
    """The attention constraints for T_q queries over T_k keys. Create it with `AttentionMask.build`.

    `build` validates the arguments and drops positional constraints that exclude nothing (causal
    for a single decoding query, a window wider than the sequence, global tokens when nothing is
    left for them to override), so `is_unconstrained` and `is_plain_causal` tell a backend when it
    can skip the mask entirely.
    """

    t_q: int
    t_k: int
    q_offset: int = 0
    causal: bool = False
    window: int | None = None
    key_padding_mask: Tensor | None = None  # (B, T_k) bool
    global_mask: Tensor | None = None       # (B, T_k) bool
    mask: Tensor | None = None              # (B|1, H|1, T_q, T_k) bool (an expanded view)
    device: torch.device | None = None

    @classmethod
    def build(cls, t_q: int, t_k: int, *, causal: bool = False, key_padding_mask: Tensor | None = None,
              mask: Tensor | None = None, window: int | None = None, global_mask: Tensor | None = None,
              q_offset: int | None = None, batch: int | None = None, n_heads: int | None = None,
              device=None) -> AttentionMask:
        """Check the constraints (ValueError on misuse) and keep only those that exclude something.

        batch / n_heads, when given, are checked against the masks' batch and head dimensions.
        """
        q_offset = t_k - t_q if q_offset is None else int(q_offset)
        if window is not None and (int(window) != window or window < 1):
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        for name, m in (("key_padding_mask", key_padding_mask), ("global_mask", global_mask)):
            if m is None:
                continue
            if m.dtype != torch.bool:
                raise ValueError(f"{name} must be a bool tensor (True = real token), got {m.dtype}")
            if m.dim() != 2 or m.size(1) != t_k or (batch is not None and m.size(0) != batch):
                raise ValueError(f"{name} must have shape (B, T_k) = ({batch or 'B'}, {t_k}), "
                                 f"got {tuple(m.shape)}")
        if global_mask is not None and (t_q != t_k or q_offset != 0):
            raise ValueError("global_mask (Longformer global tokens) needs self-attention: T_q == T_k and "
                             f"q_offset == 0, got T_q={t_q}, T_k={t_k}, q_offset={q_offset}")
        if mask is not None:
            if mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor (True = may attend), got {mask.dtype}; "
                                 "additive float masks are not supported")
            want = (batch or -1, n_heads or -1, t_q, t_k)  # -1: any size
            shape = (1,) * (4 - mask.dim()) + tuple(mask.shape)
            if mask.dim() > 4 or any(s != 1 and w != -1 and s != w for s, w in zip(shape, want)):
                raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to (B, H, T_q, T_k) "
                                 f"= {tuple(w if w != -1 else '?' for w in want)}")
            mask = mask.reshape(shape).expand(-1, -1, t_q, t_k)  # (B|1, H|1, T_q, T_k), no copy

        # Drop what excludes nothing. Over all pairs, i - j runs from q_offset - (T_k - 1) to q_offset + T_q - 1.
        lo, hi = q_offset - (t_k - 1), q_offset + t_q - 1
        if window is not None and (hi < window if causal else max(hi, -lo) < window):
            window = None
        if causal and lo >= 0:
            causal = False
        if not causal and window is None:
            global_mask = None  # global tokens only override causal/window
        return cls(t_q, t_k, q_offset, bool(causal), None if window is None else int(window),
                   key_padding_mask, global_mask, mask, device)

    @property
    def is_unconstrained(self) -> bool:
        """Every query may see every key."""
        return not self.causal and self.window is None and self.key_padding_mask is None and self.mask is None

    @property
    def is_plain_causal(self) -> bool:
        """Exactly the square lower-triangular mask (what `is_causal=True` means to SDPA)."""
        return (self.causal and self.window is None and self.key_padding_mask is None and self.mask is None
                and self.t_q == self.t_k and self.q_offset == 0)

    def tile(self, rows: Index, cols: Index) -> Tensor | None:
        """Bool "may attend" for query rows `rows` and key columns `cols`, broadcastable to (B, H, n_rows, n_cols).

        Its dimensions are B or 1, H or 1, n_rows or 1 (key padding alone gives (B, 1, 1, n_cols)), n_cols.

        rows/cols: a slice with explicit start and stop, or a 1-D LongTensor of indices.
        Returns None when every pair is allowed.
        """
        allowed = None
        if self._band_cuts(rows, cols):
            q_pos = _positions(rows, self.device) + self.q_offset  # (n_rows,) absolute positions
            k_pos = _positions(cols, self.device)                  # (n_cols,)
            dist = q_pos[:, None] - k_pos[None, :]                 # (n_rows, n_cols): how far back the key is
            near = dist >= 0 if self.causal else torch.ones_like(dist, dtype=torch.bool)
            if self.window is not None:
                near = near & (dist < self.window) & (dist > -self.window)
            allowed = near[None, None]                             # (1, 1, n_rows, n_cols)
            if self.global_mask is not None:                       # self-attention: row r is position r
                g_q = take(self.global_mask, 1, rows)             # (B, n_rows)
                g_k = take(self.global_mask, 1, cols)             # (B, n_cols)
                allowed = allowed | g_q[:, None, :, None] | g_k[:, None, None, :]  # (B, 1, n_rows, n_cols)
        if self.key_padding_mask is not None:
            allowed = _and(allowed, take(self.key_padding_mask, 1, cols)[:, None, None, :])
        if self.mask is not None:
            allowed = _and(allowed, take(take(self.mask, 2, rows), 3, cols))
        return allowed

    def _band_cuts(self, rows: Index, cols: Index) -> bool:
        """Do causal/window exclude any pair of this tile? (False for tiles wholly inside the band.)"""
        if not self.causal and self.window is None:
            return False
        if not (isinstance(rows, slice) and isinstance(cols, slice)):
            return True
        lo = rows.start + self.q_offset - (cols.stop - 1)      # smallest i - j in the tile
        hi = rows.stop - 1 + self.q_offset - cols.start        # largest i - j
        W = self.window
        return (self.causal and lo < 0) or (W is not None and (hi >= W or lo <= -W))

    def dense(self) -> Tensor | None:
        """The whole mask, broadcastable to (B, H, T_q, T_k), or None when every pair is allowed."""
        return self.tile(slice(0, self.t_q), slice(0, self.t_k))

    def visible_rows(self, c0: int, c1: int) -> tuple[int, int]:
        """Query rows [lo, hi) that causal/window let see at least one key of columns [c0, c1).

        Global tokens, padding and the dense mask are not considered (the caller adds global rows).
        """
        p_lo, p_hi = -(2**62), 2**62  # absolute query positions, inclusive
        if self.causal:
            p_lo = c0                                   # must reach the block's first key
        if self.window is not None:
            p_hi = c1 - 1 + self.window - 1             # i - j < W for the block's last key
            if not self.causal:
                p_lo = c0 - self.window + 1             # j - i < W for the block's first key
        lo = max(0, p_lo - self.q_offset)
        hi = min(self.t_q, p_hi - self.q_offset + 1)
        return lo, max(lo, hi)


def dense_mask(t_q: int, t_k: int, *, device=None, **constraints) -> Tensor:
    """The full bool mask (B|1, H|1, T_q, T_k), True = may attend; constraints as `AttentionMask.build`."""
    allowed = AttentionMask.build(t_q, t_k, device=device, **constraints).dense()
    if allowed is None:
        return torch.ones(1, 1, t_q, t_k, dtype=torch.bool, device=device)
    return allowed.expand(-1, -1, t_q, t_k)


def causal_mask(t_q: int, t_k: int, device=None) -> Tensor:
    """Boolean (T_q, T_k) mask, True where a query may look: key position ≤ query position.

    With t_k > t_q (cached keys before the queries) the queries are the last t_q positions.
    """
    return dense_mask(t_q, t_k, causal=True, device=device)[0, 0]


def split_heads(allowed: Tensor, h_kv: int, group: int) -> Tensor:
    """(B|1, H|1, R|1, C) -> (B|1, H_kv|1, G|1, R|1, C), for backends that view q as (B, H_kv, G, T_q, D)."""
    if allowed.size(1) == 1:
        return allowed.unsqueeze(2)
    return allowed.unflatten(1, (h_kv, group))
