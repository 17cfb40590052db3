"""Gradient clipping by global norm (Pascanu et al. 2013, "On the difficulty of training RNNs", §3.2).

Against exploding gradients (notes 002): treat all gradients as one long vector g; if its norm
‖g‖ exceeds max_norm, scale every gradient by max_norm / ‖g‖. The direction of the update is kept,
only its length is capped, so one bad batch cannot throw the weights far away.

Written with foreach ops (one kernel over a list of tensors instead of one per tensor), as
torch.nn.utils.clip_grad_norm_ does, and with the same arithmetic: coefficient
min(1, max_norm / (‖g‖ + 1e-6)), applied unconditionally (multiplying by 1 when no clipping is
needed avoids reading ‖g‖ back to the CPU, which would stall a GPU).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import torch


def clip_grad_norm_(parameters: torch.Tensor | Iterable[torch.Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> torch.Tensor:
    """Scale all gradients in place so their global `norm_type`-norm is at most max_norm; return the norm before.

    Parameters without a gradient are skipped. norm_type may be float("inf") (the largest |g_i|).
    With error_if_nonfinite, a nan/inf total norm raises instead of writing nan into every gradient.
    """
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    norm_type = float(norm_type)
    groups: dict[tuple, list[torch.Tensor]] = defaultdict(list)    # foreach kernels want one device and dtype
    for g in grads:
        groups[(g.device, g.dtype)].append(g)
    device = grads[0].device
    norms = [n.to(device) for group in groups.values() for n in torch._foreach_norm(group, norm_type)]
    total_norm = torch.linalg.vector_norm(torch.stack(norms), norm_type)  # the norm of the per-tensor norms
    if error_if_nonfinite and not torch.isfinite(total_norm):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is non-finite ({total_norm.item()}), "
                           "so they cannot be clipped; pass error_if_nonfinite=False to clip anyway")
    clip_coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)          # 1 when already small enough
    for (dev, _), group in groups.items():
        torch._foreach_mul_(group, clip_coef.to(dev))
    return total_norm
