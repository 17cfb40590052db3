"""AdaGrad: a per-coordinate learning rate α / √(sum of squared gradients).

Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and Stochastic
Optimization" (the diagonal version). In the notes' notation, per coordinate i:

    V_t = V_{t−1} + g_t²                  (V_0 = initial_accumulator_value)
    w_{t+1} = w_t − α_t · g_t / (√V_t + ε),    α_t = α / (1 + (t − 1)·lr_decay)

As in torch.optim.Adagrad, ε is added *outside* the square root (the notes write √(V + ε)); with
ε = 1e-10 the two differ only for coordinates that have seen (almost) no gradient. V only grows,
so the effective rate α/√V only shrinks: AdaGrad suits sparse features and convex problems, and
stalls on long non-convex runs (the problem RMSProp fixes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from lmlab.optim.closure import closure_loss


class AdaGrad(torch.optim.Optimizer):
    """AdaGrad, the same updates as torch.optim.Adagrad (L2 weight decay added to the gradient)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, lr_decay: float = 0.0):
        if not lr >= 0.0:
            raise ValueError(f"AdaGrad: lr must be >= 0, got {lr}")
        if not eps >= 0.0:
            raise ValueError(f"AdaGrad: eps must be >= 0, got {eps}")
        if not weight_decay >= 0.0:
            raise ValueError(f"AdaGrad: weight_decay must be >= 0, got {weight_decay}")
        if not initial_accumulator_value >= 0.0:
            raise ValueError(f"AdaGrad: initial_accumulator_value must be >= 0, got {initial_accumulator_value}")
        if not lr_decay >= 0.0:
            raise ValueError(f"AdaGrad: lr_decay must be >= 0, got {lr_decay}")
        defaults = dict(lr=lr, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, lr_decay=lr_decay)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, sums, steps = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdaGrad: sparse gradients are not supported")
                state = self.state[p]
                if not state:
                    state["step"] = 0.0
                    state["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                                   memory_format=torch.preserve_format)
                state["step"] = float(state["step"]) + 1.0  # float(): also accepts torch's tensor steps
                params.append(p)
                grads.append(p.grad)
                sums.append(state["sum"])
                steps.append(state["step"])
            if not params:
                continue
            lr, eps, wd, lr_decay = group["lr"], group["eps"], group["weight_decay"], group["lr_decay"]

            # g ← g + λ·w   (L2 weight decay folded into the gradient)
            if wd != 0.0:
                grads = torch._foreach_add(grads, params, alpha=wd)

            # V ← V + g²
            torch._foreach_addcmul_(sums, grads, grads, value=1.0)

            # w ← w − α_t · g / (√V + ε),   α_t = α / (1 + (t − 1)·lr_decay), a python number per tensor
            std = torch._foreach_sqrt(sums)
            torch._foreach_add_(std, eps)
            minus_lr_t = [-lr / (1.0 + (t - 1.0) * lr_decay) for t in steps]
            if wd != 0.0:  # grads is our own list (g + λ·w): scale it in place
                torch._foreach_mul_(grads, minus_lr_t)
                numerator = grads
            else:  # grads are the p.grad tensors: leave them alone
                numerator = torch._foreach_mul(grads, minus_lr_t)
            torch._foreach_addcdiv_(params, numerator, std)
        return loss
