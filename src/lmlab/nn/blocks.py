"""A Transformer block: attention and feed-forward sub-layers, each with a residual and a norm.

Post-LN (the original paper):  x = Norm(x + Sublayer(x))
Pre-LN  (GPT-2 and later):     x = x + Sublayer(Norm(x))   -- trains stably without long warm-up
(Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture").
The sub-modules are passed in, so one block serves GPT, BERT and the seq2seq encoder. Keyword
arguments (cache, masks, positions, backend) go to the attention unchanged. DecoderBlock adds the
third sub-layer of the encoder-decoder Transformer's decoder: cross-attention over the encoder output.
"""

from __future__ import annotations

import torch
from torch import nn


class TransformerBlock(nn.Module):
    def __init__(self, attn: nn.Module, ff: nn.Module, norm1: nn.Module, norm2: nn.Module,
                 norm_first: bool = True):
        super().__init__()
        self.attn, self.ff = attn, ff
        self.norm1, self.norm2 = norm1, norm2
        self.norm_first = norm_first

    def forward(self, x: torch.Tensor, **attn_kw) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        if self.norm_first:
            x = x + self.attn(self.norm1(x), **attn_kw)
            x = x + self.ff(self.norm2(x))
        else:
            x = self.norm1(x + self.attn(x, **attn_kw))
            x = self.norm2(x + self.ff(x))
        return x


class DecoderBlock(nn.Module):
    """The encoder-decoder Transformer's decoder layer (Vaswani et al. 2017, §3.1): three sub-layers,
    masked self-attention over the target so far, cross-attention whose queries come from the decoder
    and whose keys and values come from the encoder output ("memory"), and the feed-forward; each with
    a residual and a norm, Post-LN or Pre-LN as in TransformerBlock."""

    def __init__(self, self_attn: nn.Module, cross_attn: nn.Module, ff: nn.Module, norm1: nn.Module,
                 norm2: nn.Module, norm3: nn.Module, norm_first: bool = False):
        super().__init__()
        self.self_attn, self.cross_attn, self.ff = self_attn, cross_attn, ff
        self.norm1, self.norm2, self.norm3 = norm1, norm2, norm3
        self.norm_first = norm_first

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, *,
                memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
                memory_mask: torch.Tensor | None = None, **self_kw) -> torch.Tensor:
        """x (B, T, C) target; memory (B, S, C) encoder output, or memory_kv its projected keys and values;
        memory_mask (B, S) True = real source token; self_kw (cache, key_padding_mask, backend) go to the
        self-attention. -> (B, T, C)"""
        cross_kw = dict(memory_kv=memory_kv, key_padding_mask=memory_mask, backend=self_kw.get("backend"))
        if self.norm_first:
            x = x + self.self_attn(self.norm1(x), **self_kw)
            x = x + self.cross_attn(self.norm2(x), memory, **cross_kw)
            x = x + self.ff(self.norm3(x))
        else:
            x = self.norm1(x + self.self_attn(x, **self_kw))
            x = self.norm2(x + self.cross_attn(x, memory, **cross_kw))
            x = self.norm3(x + self.ff(x))
        return x
