"""The closure convention of torch.optim: step(closure) re-evaluates the model and returns its loss."""

from __future__ import annotations

from collections.abc import Callable

import torch


def closure_loss(closure: Callable[[], float] | None):
    """closure()'s loss, computed with gradients enabled (step itself runs under no_grad); None without one."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
