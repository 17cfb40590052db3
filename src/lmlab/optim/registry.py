"""Optimizers by name, and one builder that maps the common settings onto each one's arguments.

`build_optimizer(name, param_groups, lr=, betas=, eps=, momentum=, weight_decay=)` takes the
settings a training config has; each optimizer uses the ones it has a meaning for:

    name          class                              settings used
    sgd           SGD                                lr, weight_decay (L2)            momentum 0
    momentum      SGD (heavy ball, PyTorch form)     lr, momentum, weight_decay (L2)
    nesterov      SGD(nesterov=True)                 lr, momentum, weight_decay (L2)
    adagrad       AdaGrad                            lr, eps, weight_decay (L2)
    rmsprop       RMSProp                            lr, eps, weight_decay (L2)       alpha 0.99, no momentum
    adam          Adam                               lr, betas, eps, weight_decay (L2, added to g)
    adamw         AdamW                              lr, betas, eps, weight_decay (decoupled)
    ftrl          FTRL                               lr -> alpha, weight_decay -> l2  beta 1, l1 0
    torch-adamw   torch.optim.AdamW (fused kernel    lr, betas, eps, weight_decay (decoupled)
                  where the device supports it, else foreach): the speed option

weight_decay: a group that carries its own "weight_decay" (e.g. lmlab.optim.param_groups.decay_groups:
decayed matrices, undecayed biases and norms) keeps it; the argument is the default for the others.
For FTRL a group's "weight_decay" becomes its "l2". FTRL's l1 (its sparsity knob) is not a common
setting: build FTRL directly for it.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from lmlab.optim.adagrad import AdaGrad
from lmlab.optim.adam import Adam, AdamW
from lmlab.optim.ftrl import FTRL
from lmlab.optim.rmsprop import RMSProp
from lmlab.optim.sgd import SGD

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": SGD,
    "momentum": SGD,
    "nesterov": SGD,
    "adagrad": AdaGrad,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
    "ftrl": FTRL,
    "torch-adamw": torch.optim.AdamW,
}

# device types with a fused AdamW kernel (CPU since torch 2.4)
_FUSED_DEVICES = ("cpu", "cuda", "mps", "xpu")


def _groups(param_groups: Iterable) -> list[dict]:
    """A list of group dicts (copied, so the caller's dicts are not changed) from params or groups."""
    items = list(param_groups)
    if not items:
        raise ValueError("build_optimizer: got no parameters")
    if isinstance(items[0], dict):
        return [dict(g) for g in items]
    return [{"params": items}]


def _fused_supported(groups: list[dict]) -> bool:
    """Whether torch's fused AdamW kernel takes every parameter (floating point, on a supported device)."""
    params = [p for g in groups for p in g["params"]]
    return all(p.device.type in _FUSED_DEVICES and p.is_floating_point() for p in params)


def build_optimizer(name: str, param_groups: Iterable, *, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                    eps: float = 1e-8, momentum: float = 0.9, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The optimizer `name` over `param_groups` (tensors or group dicts), from the common settings."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer '{name}'; choose from: {', '.join(OPTIMIZERS)}")
    groups = _groups(param_groups)
    if name == "sgd":
        return SGD(groups, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return SGD(groups, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    if name == "adagrad":
        return AdaGrad(groups, lr=lr, eps=eps, weight_decay=weight_decay)
    if name == "rmsprop":
        return RMSProp(groups, lr=lr, eps=eps, weight_decay=weight_decay)
    if name == "adam":
        return Adam(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "ftrl":
        for g in groups:
            if "weight_decay" in g:
                g["l2"] = g.pop("weight_decay")
        return FTRL(groups, alpha=lr, l2=weight_decay)
    # torch-adamw
    fast = dict(fused=True) if _fused_supported(groups) else dict(foreach=True)
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **fast)
