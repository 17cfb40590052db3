"""Normalisation layers that are not in every torch version, written out.

RMSNorm (Zhang & Sennrich 2019, "Root Mean Square Layer Normalization"): y = x / RMS(x) · g,
RMS(x) = sqrt(mean(x²) + eps). No mean subtraction and no bias: cheaper than LayerNorm and, in
Llama-style models, just as good. Computed in fp32 and cast back, as Llama does, so bf16
activations do not lose the small differences the norm is about.
"""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}"


def norm_layer(kind: str, dim: int, eps: float, bias: bool = True) -> nn.Module:
    """'layernorm' (with or without bias) or 'rmsnorm', by name."""
    if kind == "layernorm":
        return nn.LayerNorm(dim, eps=eps, bias=bias)
    if kind == "rmsnorm":
        return RMSNorm(dim, eps=eps)
    raise ValueError(f"unknown norm '{kind}' (layernorm, rmsnorm)")
