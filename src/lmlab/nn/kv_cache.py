"""The key/value cache for incremental decoding (one pre-allocated buffer pair per layer).

Generating token t+1 needs the keys and values of tokens 1…t in every layer. Recomputing them
costs O(t) work per step (O(T²) for a whole sequence); keeping them costs memory instead:
2 (K and V) × n_layers × n_kv_heads × head_dim numbers per token. GQA/MQA shrink exactly this
factor, since only the n_kv_heads shared heads are stored (Ainslie et al. 2023).
The buffers are allocated once for `max_len` tokens, so appending is a copy, never a re-allocation.
"""

from __future__ import annotations

import torch


class LayerKV:
    """One layer's buffers: keys and values (B, H_kv, max_len, D), filled up to `length`."""

    def __init__(self, batch: int, n_kv_heads: int, head_dim: int, max_len: int,
                 dtype: torch.dtype, device: torch.device | str | None):
        shape = (batch, n_kv_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append k, v (B, H_kv, T, D); return all keys and values so far, (B, H_kv, length, D)."""
        start, end = self.length, self.length + k.size(2)
        if end > self.k.size(2):
            raise ValueError(f"KV cache is full: {end} tokens > max_len {self.k.size(2)}")
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class KVCache:
    """Per-layer caches of a decoder; `length` is the number of tokens seen so far."""

    def __init__(self, n_layers: int, batch: int, n_kv_heads: int, head_dim: int, max_len: int,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None):
        self.layers = [LayerKV(batch, n_kv_heads, head_dim, max_len, dtype, device) for _ in range(n_layers)]
        self.max_len = max_len

    @classmethod
    def for_model(cls, cfg, batch: int, max_len: int | None = None, dtype: torch.dtype = torch.float32,
                  device=None) -> KVCache:
        """A cache shaped for a model config with n_layers, kv_heads, head_dim, max_seq_len."""
        return cls(cfg.n_layers, batch, cfg.kv_heads, cfg.head_dim, max_len or cfg.max_seq_len, dtype, device)

    def __getitem__(self, i: int) -> LayerKV:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def length(self) -> int:
        return self.layers[0].length

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows `index` (B',) in this order: how beam search follows surviving beams."""
        for layer in self.layers:
            layer.k = layer.k.index_select(0, index)
            layer.v = layer.v.index_select(0, index)

    def crop(self, length: int) -> None:
        """Forget everything after the first `length` tokens."""
        for layer in self.layers:
            layer.length = min(layer.length, length)

    @property
    def nbytes(self) -> int:
        """Bytes allocated (the whole max_len, not just what is filled)."""
        return sum(t.numel() * t.element_size() for layer in self.layers for t in (layer.k, layer.v))


def kv_bytes_per_token(n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int = 2) -> int:
    """Cache bytes one token costs in one sequence: 2 (K, V) · layers · kv heads · head_dim · bytes."""
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value
