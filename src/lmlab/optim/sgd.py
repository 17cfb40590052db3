"""SGD, SGD with momentum (two equivalent forms) and Nesterov momentum (NAG).

Robbins & Monro 1951 (stochastic gradient descent); Polyak 1964 (heavy-ball momentum);
Nesterov 1983 and Sutskever et al. 2013 ("On the importance of initialization and momentum in deep
learning", the look-ahead form of NAG used in deep learning). Update rules below, in the notes'
notation: g_t = ∇f(w_t), α the learning rate, β (= μ) the momentum coefficient.

    SGD:               w ← w − α·g
    momentum "torch":  b ← μ·b + (1 − dampening)·g   (b = g on the first step)    w ← w − α·b
    momentum "ema":    m ← β·m + (1 − β)·g            (m = 0 before the first step) w ← w − α·m

The two momentum forms are the same optimizer with a rescaled learning rate. Unrolling both from
zero, b_t = Σ_k β^(t−k)·g_k (the first-step rule b = g is just b_0 = 0), and m_t = (1 − β)·Σ_k β^(t−k)·g_k,
so m_t = (1 − β)·b_t exactly, at every step, and

    "ema" with lr α  ≡  "torch" (dampening 0) with lr α·(1 − β)  ≡  "torch" with lr α and the
    gradient scaled by (1 − β).

(Dampening β does *not* give the EMA: it makes b_t = m_t + β^t·g_1, because PyTorch's first step
copies g_1 undamped.) With β = 0.9 the EMA form takes steps 10x smaller for the same α, which is
why SGD-momentum learning rates found with one form do not transfer to the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from lmlab.optim.closure import closure_loss

MOMENTUM_FORMS = ("torch", "ema")


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    momentum_form="torch" is torch.optim.SGD exactly (same buffer, same dampening, same Nesterov);
    momentum_form="ema" is the notes' exponential moving average m ← β·m + (1 − β)·g (see the
    module docstring for how the two relate: the same trajectory with lr scaled by 1 − β).

    Nesterov (NAG). Sutskever et al. write it with a "look-ahead" gradient, taken at the point the
    momentum is about to carry us to:
        v ← μ·v − α·∇f(w + μ·v),    w ← w + v.
    PyTorch (and this class) store the look-ahead point itself, w̃ = w + μ·v, as the parameters.
    Substituting w̃ and b = −v/α (α constant) turns the two lines above into
        b ← μ·b + g(w̃),    w̃ ← w̃ − α·(g(w̃) + μ·b),
    which needs only the gradient at the current parameters: the "future" gradient of the notes is
    the ordinary gradient at the stored point. The two forms give identical iterates (w̃_t = w_t + μ·v_t,
    tested in tests/optim/test_optimizers.py). In the "ema" form the step direction becomes
    (1 − β)·g + β·m, the same update with the lr scaling above.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, momentum_form: str = "torch"):
        if not lr >= 0.0:
            raise ValueError(f"SGD: lr must be >= 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if not 0.0 <= dampening <= 1.0:
            raise ValueError(f"SGD: dampening must be in [0, 1], got {dampening}")
        if not weight_decay >= 0.0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay}")
        if momentum_form not in MOMENTUM_FORMS:
            raise ValueError(f"SGD: momentum_form must be one of {', '.join(MOMENTUM_FORMS)}, got {momentum_form!r}")
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening 0")
        if momentum_form == "ema" and dampening != 0.0:
            raise ValueError("SGD: dampening applies to momentum_form='torch' only; the EMA form already "
                             "weights the gradient by (1 - momentum)")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay, momentum_form=momentum_form)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("SGD: sparse gradients are not supported")
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            grads = [p.grad for p in params]

            # g ← g + λ·w   (L2 weight decay folded into the gradient, as torch.optim.SGD)
            if wd != 0.0:
                grads = torch._foreach_add(grads, params, alpha=wd)
            # without decay `grads` are the p.grad tensors themselves: Nesterov then needs a new list
            # (torch.optim.SGD writes into p.grad instead; we leave the gradients as backward made them)
            scratch = grads if wd != 0.0 else None

            if mu != 0.0:
                if group["momentum_form"] == "torch":
                    bufs = self._torch_momentum(params, grads, mu, group["dampening"])
                    if group["nesterov"]:
                        # d = g + μ·b
                        if scratch is None:
                            direction = torch._foreach_add(grads, bufs, alpha=mu)
                        else:
                            direction = scratch
                            torch._foreach_add_(direction, bufs, alpha=mu)
                    else:
                        direction = bufs  # d = b
                else:
                    bufs = self._ema_momentum(params, grads, mu)
                    if group["nesterov"]:
                        # d = (1 − β)·g + β·m   (= (1 − β)·(g + β·b), the torch form's Nesterov step)
                        if scratch is None:
                            direction = torch._foreach_mul(grads, 1.0 - mu)
                        else:
                            direction = scratch
                            torch._foreach_mul_(direction, 1.0 - mu)
                        torch._foreach_add_(direction, bufs, alpha=mu)
                    else:
                        direction = bufs  # d = m
            else:
                direction = grads

            # w ← w − α·d
            torch._foreach_add_(params, direction, alpha=-lr)
        return loss

    def _torch_momentum(self, params: list, grads: list, mu: float, dampening: float) -> list:
        """b ← μ·b + (1 − dampening)·g, with b = g (a copy, undamped) the first time a parameter is seen."""
        bufs = [self.state[p].get("momentum_buffer") for p in params]
        old = [i for i, b in enumerate(bufs) if b is not None]
        if old:
            old_bufs = [bufs[i] for i in old]
            torch._foreach_mul_(old_bufs, mu)
            torch._foreach_add_(old_bufs, [grads[i] for i in old], alpha=1.0 - dampening)
        for i, b in enumerate(bufs):
            if b is None:
                bufs[i] = self.state[params[i]]["momentum_buffer"] = grads[i].detach().clone()
        return bufs

    def _ema_momentum(self, params: list, grads: list, beta: float) -> list:
        """m ← β·m + (1 − β)·g, with m = 0 before the first step (the notes' SGDM)."""
        bufs = []
        for p in params:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            bufs.append(state["momentum_buffer"])
        torch._foreach_mul_(bufs, beta)
        torch._foreach_add_(bufs, grads, alpha=1.0 - beta)
        return bufs
