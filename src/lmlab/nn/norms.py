"""Normalisation layers, written out: LayerNorm, BatchNorm, RMSNorm.

All three rescale activations to a standard size and then apply a learned per-feature gain γ
(`weight`) and, except RMSNorm, shift β (`bias`). They differ in what they average over. For a
batch of b sequences of n tokens with d features, x of shape (b, n, d):

- BatchNorm (Ioffe & Szegedy 2015): one mean and variance per feature, over the b·n values of that
  feature in the whole batch (d statistics). The statistics depend on the other samples, so
  training uses the batch's and evaluation uses running averages kept during training. Padding and
  sequences of very different lengths make those statistics noisy, hence LayerNorm in NLP.
- LayerNorm (Ba et al. 2016): one mean and variance per token, over its own d features (b·n
  statistics). No dependence on the batch, the same computation in training and evaluation.
  (The notes draw LayerNorm over all n·d values of a sample; Transformers normalise each token over
  its d_model features, which is what `LayerNorm(d_model)` here and in torch does.)
- RMSNorm (Zhang & Sennrich 2019, "Root Mean Square Layer Normalization"): like LayerNorm but
  without mean subtraction or bias, y = x / RMS(x) · g, RMS(x) = sqrt(mean(x²) + eps). Cheaper
  and, in Llama-style models, just as good. Computed in fp32 and cast back, as Llama does, so bf16
  activations do not lose the small differences the norm is about.

`norm_layer` (used by the models) returns torch's fused nn.LayerNorm for "layernorm": the same
numbers as LayerNorm here within float rounding and one kernel instead of several, with the same
parameter names (`weight`, `bias`), so checkpoints load into either.
"""

from __future__ import annotations

import torch
from torch import nn


class LayerNorm(nn.Module):
    """y = (x − mean) / sqrt(var + eps) · γ + β over the last dimension (biased variance)."""

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        mean = x.mean(-1, keepdim=True)                                 # (..., 1)
        var = (x - mean).pow(2).mean(-1, keepdim=True)                  # (..., 1) biased: divide by C
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}, bias={self.bias is not None}"


class BatchNorm(nn.Module):
    """Per-feature normalisation over the batch; running averages for evaluation.

    Inputs (N, C) or (N, C, L) as torch.nn.BatchNorm1d, or (N, T, C) with channels_last=True (the
    layout of token sequences). Training: normalise with the batch mean and biased variance, and
    update running_mean/running_var with the batch mean and the *unbiased* variance,
    running = (1 − momentum)·running + momentum·batch (momentum=None: the cumulative average over
    all batches so far). Evaluation: normalise with the running averages. Buffers and parameters
    have BatchNorm1d's names, so state dicts are interchangeable.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 channels_last: bool = False):
        super().__init__()
        self.num_features, self.eps, self.momentum, self.channels_last = num_features, eps, momentum, channels_last
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 3):
            raise ValueError(f"BatchNorm expects (N, C) or (N, C, L) / (N, T, C) input, got {tuple(x.shape)}")
        c_dim = x.dim() - 1 if self.channels_last else 1
        dims = [d for d in range(x.dim()) if d != c_dim]                  # every dim but the channel
        shape = [1] * x.dim()
        shape[c_dim] = self.num_features                                  # (1, C) / (1, C, 1) / (1, 1, C)
        if self.training:
            n = x.numel() // self.num_features                            # values per channel
            if n < 2:
                raise ValueError(f"BatchNorm needs more than 1 value per channel in training, got {tuple(x.shape)}")
            mean = x.mean(dims)                                           # (C,)
            var = (x - mean.view(shape)).pow(2).mean(dims)                # (C,) biased, used to normalise
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))   # unbiased estimate
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
                + (", channels_last=True" if self.channels_last else ""))


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x²) + eps) · g over the last dimension, in fp32."""

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
    """'layernorm' (torch's fused nn.LayerNorm, with or without bias) or 'rmsnorm', by name."""
    if kind == "layernorm":
        return nn.LayerNorm(dim, eps=eps, bias=bias)
    if kind == "rmsnorm":
        return RMSNorm(dim, eps=eps)
    raise ValueError(f"unknown norm '{kind}' (layernorm, rmsnorm)")
