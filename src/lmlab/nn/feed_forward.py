"""Position-wise feed-forward network, d_model -> d_ff -> d_model (Vaswani et al. 2017, §3.3).

`swiglu` is the gated variant of Shazeer 2020 ("GLU Variants Improve Transformer") used by
Llama: down(SiLU(gate(x)) ⊙ up(x)), three matrices instead of two.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.nn.linear import Linear

ACTIVATIONS = {"gelu": lambda: nn.GELU(approximate="tanh"), "gelu_exact": nn.GELU, "relu": nn.ReLU}
GATED = ("swiglu",)


class FeedForward(nn.Module):
    """Two linear maps with a non-linearity between (or a gated pair); applied to every position."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "gelu",
                 bias: bool = True):
        super().__init__()
        if activation not in ACTIVATIONS and activation not in GATED:
            raise ValueError(f"unknown activation '{activation}' ({', '.join([*ACTIVATIONS, *GATED])})")
        self.gated = activation in GATED
        self.up = Linear(d_model, d_ff, bias=bias)
        if self.gated:
            self.gate = Linear(d_model, d_ff, bias=bias)
        else:
            self.act = ACTIVATIONS[activation]()
        self.down = Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        h = F.silu(self.gate(x)) * self.up(x) if self.gated else self.act(self.up(x))  # (B, T, F)
        return self.dropout(self.down(h))
