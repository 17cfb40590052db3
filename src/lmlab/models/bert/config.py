"""The BERT configuration: every size and switch of the encoder, validated, JSON-serialisable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.config import check_choices
from lmlab.ops.backends import Backend


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522         # WordPiece vocabulary of the released English BERT
    max_seq_len: int = 512          # learned positions 0 … 511
    type_vocab_size: int = 2        # segments: sentence A = 0, sentence B = 1
    d_model: int = 768
    n_heads: int = 12
    n_layers: int = 12
    d_ff: int = 0                   # 0 means 4 * d_model
    dropout: float = 0.1            # embeddings, attention weights, every sub-layer output
    norm_eps: float = 1e-12         # BERT's LayerNorm epsilon (TensorFlow's default in the original code)
    norm_first: bool = False        # Post-LN, as BERT; True gives Pre-LN (Xiong et al. 2020) plus a final norm
    activation: Literal["gelu_exact", "gelu", "relu"] = "gelu_exact"  # BERT: exact erf GELU
    pad_id: int = 0                 # [PAD]: its embedding row starts at zero and gets no gradient
    attn_backend: Backend = "auto"

    def __post_init__(self):
        for name in ("vocab_size", "max_seq_len", "type_vocab_size", "d_model", "n_heads", "n_layers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.d_ff < 0:
            raise ValueError(f"d_ff must be ≥ 0 (0 = 4 * d_model), got {self.d_ff}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.norm_eps <= 0:
            raise ValueError(f"norm_eps must be positive, got {self.norm_eps}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id must be a token id in [0, {self.vocab_size}), got {self.pad_id}")
        check_choices(self, "activation", "attn_backend")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def ff_dim(self) -> int:
        return self.d_ff or 4 * self.d_model
