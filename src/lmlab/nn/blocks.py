"""A Transformer block: attention and feed-forward sub-layers, each with a residual and a norm.

Post-LN (the original paper):  x = Norm(x + Sublayer(x))
Pre-LN  (GPT-2 and later):     x = x + Sublayer(Norm(x))   -- trains stably without long warm-up
(Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture").
The sub-modules are passed in, so one block serves GPT, BERT and the seq2seq encoder. Keyword
arguments (cache, masks, positions, backend) go to the attention unchanged.
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
