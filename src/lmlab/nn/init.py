"""Weight initialisation schemes: random, to break symmetry, and scaled to keep variances steady.

For a weight W of shape (fan_out, fan_in) (nn.Linear's layout; conv kernels multiply both fans by
the receptive field size):

- Xavier / Glorot (Glorot & Bengio 2010, eq. 16): Var(W) = gain² · 2 / (fan_in + fan_out), a
  compromise between keeping the forward variance (1/fan_in) and the backward one (1/fan_out).
  uniform: U(−a, a), a = gain·sqrt(6 / (fan_in + fan_out)); normal: std = gain·sqrt(2 / (fan_in + fan_out)).
- Kaiming / He (He et al. 2015, "Delving Deep into Rectifiers", §2.2): Var(W) = gain² / fan, with
  fan = fan_in (keeps activations' variance, the default) or fan_out (keeps gradients'). For ReLU
  gain = √2, since ReLU zeroes half of its inputs. uniform: U(−b, b), b = √3·gain/√fan; normal:
  std = gain/√fan.
- GPT-2 (Radford et al. 2019, §2.3): every weight ~ N(0, 0.02), biases 0, norms 1/0; the weights
  of the projections that write into the residual stream get std / √(2·n_layers), since each of
  the 2·n_layers sub-layers adds its output to the same stream (variance grows with each add).

The gains (`calculate_gain`): linear / sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1 + a²)),
selu 3/4 — PyTorch's values. Each function fills the tensor in place with one `uniform_` or
`normal_` call with the bounds above, which is what torch.nn.init does, so both draw the same
numbers from the same seed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lmlab.nn.norms import LayerNorm

RESIDUAL_PROJECTIONS = ("out_proj.weight", "down.weight")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which an activation shrinks the standard deviation, to be undone by the init."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unknown nonlinearity '{nonlinearity}' (linear, sigmoid, tanh, relu, leaky_relu, selu)")


def fans(tensor: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): inputs and outputs per unit."""
    if tensor.dim() < 2:
        raise ValueError(f"fan_in and fan_out need a tensor with at least 2 dims, got shape {tuple(tensor.shape)}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.size(1) * receptive_field, tensor.size(0) * receptive_field


@torch.no_grad()
def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0, generator=None) -> torch.Tensor:
    """U(−a, a), a = gain·sqrt(6 / (fan_in + fan_out)): variance gain²·2/(fan_in + fan_out)."""
    fan_in, fan_out = fans(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    a = math.sqrt(3.0) * std                        # a uniform on (−a, a) has std a/√3
    return tensor.uniform_(-a, a, generator=generator)


@torch.no_grad()
def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0, generator=None) -> torch.Tensor:
    """N(0, std²), std = gain·sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return tensor.normal_(0.0, std, generator=generator)


def kaiming_std(tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> float:
    """gain / √fan; the defaults (leaky_relu with slope a = 0) are ReLU's gain √2, as in torch."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got '{mode}'")
    fan_in, fan_out = fans(tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@torch.no_grad()
def kaiming_uniform_(tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> torch.Tensor:
    """U(−b, b), b = √3 · gain / √fan (He et al. 2015)."""
    bound = math.sqrt(3.0) * kaiming_std(tensor, a, mode, nonlinearity)
    return tensor.uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def kaiming_normal_(tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> torch.Tensor:
    """N(0, std²), std = gain / √fan (He et al. 2015)."""
    return tensor.normal_(0.0, kaiming_std(tensor, a, mode, nonlinearity), generator=generator)


@torch.no_grad()
def normal_(tensor: torch.Tensor, std: float = 0.02, mean: float = 0.0, generator=None) -> torch.Tensor:
    """N(mean, std²), GPT-2's N(0, 0.02²) by default."""
    return tensor.normal_(mean, std, generator=generator)


def scaled_residual_std(std: float, n_layers: int) -> float:
    """std / √(2·n_layers): for projections that add into the residual stream (2 per block)."""
    return std / math.sqrt(2 * n_layers)


def gpt2_init_(model: nn.Module, n_layers: int, std: float = 0.02) -> None:
    """GPT-2's scheme over a whole model: N(0, std) weights, zero biases, unit norms, scaled residuals."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            normal_(module.weight, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            normal_(module.weight, std)
        elif isinstance(module, (nn.LayerNorm, LayerNorm)):
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    scaled = scaled_residual_std(std, n_layers)
    for name, p in model.named_parameters():
        if name.endswith(RESIDUAL_PROJECTIONS):
            normal_(p, scaled)
