"""Adam and AdamW: momentum (first moment) + RMSProp (second moment) + bias correction.

Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization" (Algorithm 1); Loshchilov & Hutter
2019, "Decoupled Weight Decay Regularization" (AdamW, Algorithm 2). In the notes' notation, per
coordinate, with t the step count of the parameter:

    m ← β1·m + (1 − β1)·g                   first moment: the direction
    V ← β2·V + (1 − β2)·g²                  second moment: the per-coordinate step size
    m̂ = m / (1 − β1^t),  V̂ = V / (1 − β2^t)  bias correction (m and V start at 0)
    w ← w − α · m̂ / (√V̂ + ε)

Weight decay λ, the difference between the two classes:
    Adam  (L2):         g ← g + λ·w before the moments, so the decay is divided by √V̂ like the rest
    AdamW (decoupled):  w ← w − α·λ·w, applied to the weights directly, never divided by √V̂

The code is arranged as torch.optim's foreach implementation (and gives the same numbers): m by
lerp, V by mul + addcmul, the bias corrections as python numbers folded into the step size, so
w ← w + (−α / (1 − β1^t)) · m / (√V / √(1 − β2^t) + ε). ε sits outside the square root, as in the
paper and PyTorch (the notes write √(V̂ + ε)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from lmlab.optim.closure import closure_loss


class Adam(torch.optim.Optimizer):
    """Adam with L2 weight decay (added to the gradient), the same updates as torch.optim.Adam."""

    decoupled_weight_decay = False
    name = "Adam"

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if not lr >= 0.0:
            raise ValueError(f"{self.name}: lr must be >= 0, got {lr}")
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{self.name}: betas must be two numbers in [0, 1), got {betas}")
        if not eps >= 0.0:
            raise ValueError(f"{self.name}: eps must be >= 0, got {eps}")
        if not weight_decay >= 0.0:
            raise ValueError(f"{self.name}: weight_decay must be >= 0, got {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{self.name}: sparse gradients are not supported")
                state = self.state[p]
                if not state:
                    state["step"] = 0.0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                # a python float, so the bias corrections below are python numbers (no .item() per
                # tensor); float() also accepts the tensor steps of a state saved by torch.optim.Adam
                state["step"] = float(state["step"]) + 1.0
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                steps.append(state["step"])
            if not params:
                continue
            self._update(params, grads, exp_avgs, exp_avg_sqs, steps, group)
        return loss

    def _update(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, steps: list[float],
                group: dict) -> None:
        """The Adam/AdamW update of one group's tensors, vectorised with torch._foreach_* ops."""
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]

        if wd != 0.0:
            if self.decoupled_weight_decay:
                # AdamW: w ← w − α·λ·w = (1 − α·λ)·w
                torch._foreach_mul_(params, 1.0 - lr * wd)
            else:
                # Adam + L2: g ← g + λ·w  (a new list: p.grad is left untouched)
                grads = torch._foreach_add(grads, params, alpha=wd)

        # m ← β1·m + (1 − β1)·g  =  lerp(m, g, 1 − β1)
        torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
        # V ← β2·V + (1 − β2)·g²
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)

        # bias corrections, python numbers per tensor: step_size = −α / (1 − β1^t), √(1 − β2^t)
        step_size = [-lr / (1.0 - beta1**t) for t in steps]
        bias_correction2_sqrt = [(1.0 - beta2**t) ** 0.5 for t in steps]

        # denom = √V / √(1 − β2^t) + ε = √V̂ + ε ;  w ← w + step_size · m / denom
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, bias_correction2_sqrt)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, step_size)


class AdamW(Adam):
    """Adam with decoupled weight decay w ← w − α·λ·w (Loshchilov & Hutter), as torch.optim.AdamW."""

    decoupled_weight_decay = True
    name = "AdamW"

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
