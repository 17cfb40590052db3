"""Position-wise feed-forward network, d_model -> d_ff -> d_model (Vaswani et al. 2017, §3.3)."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"gelu": lambda: nn.GELU(approximate="tanh"), "gelu_exact": nn.GELU, "relu": nn.ReLU}


class FeedForward(nn.Module):
    """Two linear maps with a non-linearity between; applied to every position independently."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "gelu",
                 bias: bool = True):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.act = ACTIVATIONS[activation]()
        self.down = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        return self.dropout(self.down(self.act(self.up(x))))
