"""GPT: token + position embeddings, a stack of masked self-attention blocks, a tied LM head.

Radford et al. 2018 ("Improving Language Understanding by Generative Pre-Training") and 2019
("Language Models are Unsupervised Multitask Learners"). The model maps token ids (B, T) to
next-token logits (B, T, V); training objectives live in lmlab.train, not here.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.models.gpt.config import GPTConfig
from lmlab.nn.attention import MultiHeadAttention
from lmlab.nn.blocks import TransformerBlock
from lmlab.nn.embeddings import positional_embedding
from lmlab.nn.feed_forward import FeedForward
from lmlab.nn.init import gpt2_init_


def gpt_block(cfg: GPTConfig) -> TransformerBlock:
    attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.kv_heads, cfg.dropout, cfg.bias,
                              causal=True, backend=cfg.attn_backend)
    ff = FeedForward(cfg.d_model, cfg.ff_dim, cfg.dropout, cfg.activation, cfg.bias)
    norm = lambda: nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=cfg.bias)
    return TransformerBlock(attn, ff, norm(), norm(), norm_first=cfg.norm_first)


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = positional_embedding(cfg.pos_embedding, cfg.max_seq_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(gpt_block(cfg) for _ in range(cfg.n_layers))
        # Post-LN blocks end in a norm already; Pre-LN needs one after the last block.
        self.norm_f = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=cfg.bias) if cfg.norm_first else nn.Identity()
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        gpt2_init_(self, cfg.n_layers)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor, hidden: bool = False) -> torch.Tensor:
        """idx (B, T) token ids -> logits (B, T, V); with hidden=True the final states (B, T, C)."""
        B, T = idx.shape
        if T > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than the context ({self.cfg.max_seq_len})")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        x = self.norm_f(x)
        return x if hidden else self.lm_head(x)  # (B, T, V)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Unique parameters (a tied matrix is counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
