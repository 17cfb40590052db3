"""The encoder-decoder Transformer's settings (Vaswani et al. 2017, Table 3), validated, JSON-serialisable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.config import check_choices
from lmlab.ops.backends import Backend


@dataclass(frozen=True)
class Seq2SeqConfig:
    vocab_size: int = 37000          # source vocabulary (the paper's joint English-German BPE: ~37k)
    tgt_vocab_size: int = 0          # target vocabulary; 0 = the same (a joint vocabulary)
    max_seq_len: int = 256           # longest source or target, in tokens (sinusoids are computed, not learned)
    d_model: int = 512
    n_heads: int = 8
    d_ff: int = 2048                 # the feed-forward's inner width, 512 -> 2048 -> 512 in the paper
    n_encoder_layers: int = 6        # the paper's N = 6 for both stacks
    n_decoder_layers: int = 6
    dropout: float = 0.1             # P_drop: embeddings + positions, every sub-layer output, attention weights
    activation: Literal["relu", "gelu", "gelu_exact"] = "relu"   # the paper: ReLU
    norm_first: bool = False         # False: Post-LN as in the paper; True: Pre-LN, plus a final norm per stack
    norm_eps: float = 1e-5
    share_embeddings: bool = True    # one matrix for the source and target embeddings (needs a joint vocabulary)
    tie_embeddings: bool = True      # the output projection uses the target embedding matrix (§3.4)
    scale_embeddings: bool = True    # multiply embeddings by √d_model before adding the positions (§3.4)
    pad_id: int = 0                  # ids the data pipeline uses (the model itself reads masks, not pad ids)
    bos_id: int = 0                  # the decoder's first input ("start of sentence")
    eos_id: int = 0                  # ends a sentence (source and target); decoding stops on it
    attn_backend: Backend = "auto"

    def __post_init__(self):
        for name in ("vocab_size", "max_seq_len", "d_model", "n_heads", "d_ff", "n_encoder_layers",
                     "n_decoder_layers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.tgt_vocab_size < 0:
            raise ValueError(f"tgt_vocab_size must be ≥ 0 (0 = vocab_size), got {self.tgt_vocab_size}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.d_model % 2:
            raise ValueError(f"sinusoidal positions need an even d_model, got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.norm_eps <= 0:
            raise ValueError(f"norm_eps must be positive, got {self.norm_eps}")
        if self.share_embeddings and self.target_vocab_size != self.vocab_size:
            raise ValueError(f"share_embeddings needs one joint vocabulary, but the source has {self.vocab_size} "
                             f"tokens and the target {self.target_vocab_size}; set share_embeddings false")
        for name in ("pad_id", "bos_id", "eos_id"):
            if not 0 <= getattr(self, name) < self.target_vocab_size:
                raise ValueError(f"{name} must be a target token id in [0, {self.target_vocab_size}), "
                                 f"got {getattr(self, name)}")
        check_choices(self, "activation", "attn_backend")

    @property
    def target_vocab_size(self) -> int:
        return self.tgt_vocab_size or self.vocab_size

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:  # KVCache.for_model reads these three
        return self.n_heads

    @property
    def n_layers(self) -> int:
        return self.n_decoder_layers
