"""GPT: token embeddings, a stack of masked self-attention blocks, a (tied) LM head.

Radford et al. 2018 ("Improving Language Understanding by Generative Pre-Training") and 2019
("Language Models are Unsupervised Multitask Learners"). The same decoder with rotary
positions, RMSNorm, SwiGLU and grouped-query attention is the Llama recipe (Touvron et al.
2023), selected by config, not by a second model class. The model maps token ids (B, T) to
next-token logits (B, T, V); training objectives live in lmlab.train, decoding in lmlab.generate.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.models.gpt.config import GPTConfig
from lmlab.nn.attention import MultiHeadAttention
from lmlab.nn.blocks import TransformerBlock
from lmlab.nn.embeddings import RotaryEmbedding, positional_embedding
from lmlab.nn.feed_forward import FeedForward
from lmlab.nn.init import gpt2_init_
from lmlab.nn.kv_cache import KVCache
from lmlab.nn.linear import Linear
from lmlab.nn.norms import norm_layer


def gpt_block(cfg: GPTConfig, rotary: nn.Module | None) -> TransformerBlock:
    attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.kv_heads, cfg.dropout, cfg.bias, causal=True,
                              backend=cfg.attn_backend, window=cfg.attn_window, rotary=rotary)
    ff = FeedForward(cfg.d_model, cfg.ff_dim, cfg.dropout, cfg.activation, cfg.bias)
    norm = lambda: norm_layer(cfg.norm, cfg.d_model, cfg.norm_eps, cfg.bias)
    return TransformerBlock(attn, ff, norm(), norm(), norm_first=cfg.norm_first)


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        rotary = None
        if cfg.pos_embedding == "rotary":  # positions enter inside attention
            rotary, self.pos_emb = RotaryEmbedding(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta), None
        else:
            self.pos_emb = positional_embedding(cfg.pos_embedding, cfg.max_seq_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(gpt_block(cfg, rotary) for _ in range(cfg.n_layers))
        # Post-LN blocks end in a norm already; Pre-LN needs one after the last block.
        self.norm_f = norm_layer(cfg.norm, cfg.d_model, cfg.norm_eps, cfg.bias) if cfg.norm_first else nn.Identity()
        self.lm_head = Linear(cfg.d_model, cfg.vocab_size, bias=False)
        gpt2_init_(self, cfg.n_layers)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor, *, cache: KVCache | None = None, positions: torch.Tensor | None = None,
                padding_mask: torch.Tensor | None = None, hidden: bool = False, last: bool = False,
                backend: str | None = None) -> torch.Tensor:
        """idx (B, T) token ids -> logits (B, T, V), or (B, 1, V) with last=True, or the final
        hidden states (B, T, C) with hidden=True.

        cache: a KVCache; idx are then the tokens after the cached ones. positions (T,) or (B, T):
        absolute positions (default: after the cache), e.g. shifted for left-padded prompts.
        padding_mask (B, T_cached + T) bool: False marks pad tokens nobody may attend to.
        backend overrides the attention backend of the config for this call.
        """
        B, T = idx.shape
        past = cache.length if cache is not None else 0
        if past + T > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {past + T} tokens is longer than the context ({self.cfg.max_seq_len})")
        if positions is None:
            positions = torch.arange(past, past + T, device=idx.device)  # (T,)
        x = self.tok_emb(idx)  # (B, T, C)
        if self.pos_emb is not None:
            x = x + self.pos_emb(positions)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache=None if cache is None else cache[i], positions=positions,
                      key_padding_mask=padding_mask, backend=backend)
        if last:
            x = x[:, -1:]
        x = self.norm_f(x)
        return x if hidden else self.lm_head(x)  # (B, T, V)

    def new_cache(self, batch: int, max_len: int | None = None, dtype: torch.dtype | None = None) -> KVCache:
        """An empty KV cache for `batch` sequences of up to `max_len` tokens (default: the context)."""
        p = self.lm_head.weight
        return KVCache.for_model(self.cfg, batch, max_len, dtype or p.dtype, p.device)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Unique parameters (a tied matrix is counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
