"""RMSProp: AdaGrad with the running sum of squared gradients replaced by a moving average.

Tieleman & Hinton 2012, Coursera "Neural Networks for Machine Learning", lecture 6.5; the centered
variant and the momentum buffer follow Graves 2013, "Generating Sequences With Recurrent Neural
Networks" (eq. 38-45), as torch.optim.RMSprop does. In the notes' notation (β2 is `alpha` here):

    V ← α·V + (1 − α)·g²                       (V_0 = 0)
    centered:  ḡ ← α·ḡ + (1 − α)·g,  V̂ = V − ḡ²   (a variance instead of a raw second moment)
    w ← w − lr · g / (√V̂ + ε)                          without momentum
    b ← μ·b + g / (√V̂ + ε),   w ← w − lr · b           with momentum μ

V forgets old gradients, so the effective rate can grow again when gradients shrink, unlike AdaGrad.
ε sits outside the square root, as in PyTorch (the notes write √(V + ε)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from lmlab.optim.closure import closure_loss


class RMSProp(torch.optim.Optimizer):
    """RMSProp, the same updates as torch.optim.RMSprop (L2 weight decay added to the gradient)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        if not lr >= 0.0:
            raise ValueError(f"RMSProp: lr must be >= 0, got {lr}")
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"RMSProp: alpha (the decay of the squared-gradient average) must be in [0, 1), "
                             f"got {alpha}")
        if not eps >= 0.0:
            raise ValueError(f"RMSProp: eps must be >= 0, got {eps}")
        if not weight_decay >= 0.0:
            raise ValueError(f"RMSProp: weight_decay must be >= 0, got {weight_decay}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"RMSProp: momentum must be in [0, 1), got {momentum}")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
            params, grads, square_avgs, grad_avgs, bufs = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("RMSProp: sparse gradients are not supported")
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if mu > 0.0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                square_avgs.append(state["square_avg"])
                if mu > 0.0:
                    bufs.append(state["momentum_buffer"])
                if centered:
                    grad_avgs.append(state["grad_avg"])
            if not params:
                continue

            # g ← g + λ·w   (L2 weight decay folded into the gradient)
            if wd != 0.0:
                grads = torch._foreach_add(grads, params, alpha=wd)

            # V ← α·V + (1 − α)·g²
            torch._foreach_mul_(square_avgs, alpha)
            torch._foreach_addcmul_(square_avgs, grads, grads, value=1.0 - alpha)

            if centered:
                # ḡ ← α·ḡ + (1 − α)·g ;  denom = √(V − ḡ²) + ε
                torch._foreach_lerp_(grad_avgs, grads, 1.0 - alpha)
                denom = torch._foreach_addcmul(square_avgs, grad_avgs, grad_avgs, value=-1.0)
                torch._foreach_sqrt_(denom)
            else:
                # denom = √V + ε
                denom = torch._foreach_sqrt(square_avgs)
            torch._foreach_add_(denom, eps)

            if mu > 0.0:
                # b ← μ·b + g / denom ;  w ← w − lr·b
                torch._foreach_mul_(bufs, mu)
                torch._foreach_addcdiv_(bufs, grads, denom)
                torch._foreach_add_(params, bufs, alpha=-lr)
            else:
                # w ← w − lr · g / denom
                torch._foreach_addcdiv_(params, grads, denom, value=-lr)
        return loss
