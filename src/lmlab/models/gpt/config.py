"""The GPT configuration: every size and switch of the model, validated, JSON-serialisable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.config import check_choices
from lmlab.ops.backends import Backend


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 50257
    max_seq_len: int = 1024         # context length (positions)
    d_model: int = 768
    n_heads: int = 12
    n_layers: int = 12
    d_ff: int = 0                   # 0 means 4 * d_model
    n_kv_heads: int = 0             # 0 means n_heads (plain multi-head attention)
    dropout: float = 0.0
    norm_first: bool = True         # Pre-LN (GPT-2); False gives Post-LN (GPT-1, the original Transformer)
    tie_embeddings: bool = True     # LM head shares the token-embedding matrix
    pos_embedding: Literal["learned", "sinusoidal", "rotary"] = "learned"
    rope_theta: float = 10000.0     # base of the rotary frequencies (pos_embedding="rotary")
    activation: Literal["gelu", "gelu_exact", "relu", "swiglu"] = "gelu"
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    bias: bool = True
    norm_eps: float = 1e-5
    attn_backend: Backend = "auto"
    attn_window: int = 0            # sliding-window attention: see only the last attn_window tokens; 0 = all

    def __post_init__(self):
        for name in ("vocab_size", "max_seq_len", "d_model", "n_heads", "n_layers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be divisible by n_kv_heads ({self.kv_heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        check_choices(self, "pos_embedding", "activation", "norm", "attn_backend")
        if self.pos_embedding == "rotary" and self.head_dim % 2:
            raise ValueError(f"rotary position embeddings need an even head_dim, got {self.head_dim}")
        if self.attn_window < 0:
            raise ValueError(f"attn_window must be ≥ 0 (0 = full attention), got {self.attn_window}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def ff_dim(self) -> int:
        return self.d_ff or 4 * self.d_model

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads
