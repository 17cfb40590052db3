"""FTRL-Proximal: per-coordinate online learning with L1 that makes weights exactly zero.

McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches" (KDD), Algorithm 1. Each
coordinate i keeps z (the sum of gradients, corrected for the moving weights) and n (the sum of
squared gradients, as in AdaGrad); its weight is a closed-form function of them:

    σ = (√(n + g²) − √n) / α
    z ← z + g − σ·w
    n ← n + g²
    w = 0                                              if |z| ≤ λ1
    w = −(z − sign(z)·λ1) / ((β + √n)/α + λ2)          otherwise

The per-coordinate learning rate is α / (β + √n) (AdaGrad's, with β smoothing the start). A weight
stays exactly 0 until the accumulated evidence |z| exceeds λ1: that is where the sparsity comes
from, and why FTRL is the optimizer of huge sparse linear models (CTR prediction, the "wide" part
of Wide & Deep). After the first step the weights are a function of (z, n) only, so start from
zeros, as the paper does (z = n = 0 gives w = 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from lmlab.optim.closure import closure_loss


class FTRL(torch.optim.Optimizer):
    """FTRL-Proximal (McMahan et al. 2013, Algorithm 1), vectorised over whole tensors.

    alpha, beta: the per-coordinate rate α / (β + √n); l1, l2: the regularisation strengths λ1, λ2.
    The group key "lr" is not used (a learning-rate schedule that writes it has no effect).
    """

    def __init__(self, params: Iterable, alpha: float = 0.1, beta: float = 1.0, l1: float = 0.0, l2: float = 0.0):
        if not alpha > 0.0:
            raise ValueError(f"FTRL: alpha must be > 0, got {alpha}")
        if not beta >= 0.0:
            raise ValueError(f"FTRL: beta must be >= 0, got {beta}")
        if not l1 >= 0.0:
            raise ValueError(f"FTRL: l1 must be >= 0, got {l1}")
        if not l2 >= 0.0:
            raise ValueError(f"FTRL: l2 must be >= 0, got {l2}")
        super().__init__(params, dict(alpha=alpha, beta=beta, l1=l1, l2=l2))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            alpha, beta, l1, l2 = group["alpha"], group["beta"], group["l1"], group["l2"]
            params, grads, zs, ns = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("FTRL: sparse gradients are not supported; densify them "
                                       "(e.g. index_add_ into a zero tensor)")
                state = self.state[p]
                if not state:
                    state["z"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["n"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                zs.append(state["z"])
                ns.append(state["n"])
            if not params:
                continue

            # σ = (√(n + g²) − √n) / α ;  n ← n + g²
            sigma = torch._foreach_sqrt(ns)  # √n (old)
            torch._foreach_addcmul_(ns, grads, grads)
            sqrt_n = torch._foreach_sqrt(ns)  # √n (new)
            torch._foreach_sub_(sigma, sqrt_n)  # √n_old − √n_new = −α·σ
            torch._foreach_div_(sigma, -alpha)

            # z ← z + (g − σ·w), written z ← z − (σ·w − g) to work in place (the same bits)
            torch._foreach_mul_(sigma, params)
            torch._foreach_sub_(sigma, grads)
            torch._foreach_sub_(zs, sigma)

            # w = 0 if |z| ≤ λ1 else −(z − sign(z)·λ1) / ((β + √n)/α + λ2).
            # clamp(z, −λ1, λ1) − z is exactly 0 when |z| ≤ λ1 and exactly −(z − sign(z)·λ1) otherwise
            # (soft thresholding), so one expression covers both cases without a per-coordinate branch;
            # it is computed in place in the parameters (the old w is not needed any more).
            torch._foreach_add_(sqrt_n, beta)  # denominator = (β + √n)/α + λ2
            torch._foreach_div_(sqrt_n, alpha)
            torch._foreach_add_(sqrt_n, l2)
            torch._foreach_copy_(params, zs)
            torch._foreach_clamp_min_(params, -l1)
            torch._foreach_clamp_max_(params, l1)
            torch._foreach_sub_(params, zs)
            torch._foreach_div_(params, sqrt_n)
        return loss
