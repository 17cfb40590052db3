"""Learning-rate schedules as pure functions of the step (0-based: the step about to be taken).

Why: early updates from random weights are large and noisy, so the rate starts small (warm-up);
late in training smaller steps settle into the minimum (decay). Linear warm-up + cosine decay is
the robust default (notes 002).

- constant:       lr, after an optional linear warm-up.
- warmup_cosine:  linear warm-up to lr over `warmup` steps, then half a cosine down to min_lr at
                  `total` (Loshchilov & Hutter 2017 for the cosine; warm-up as in GPT-2/3).
- warmup_linear:  the same warm-up, then a straight line down to min_lr at `total` (BERT).
- inverse_sqrt:   "Noam", the original Transformer's (Vaswani et al. 2017, §5.3, eq. 3):
                  d_model^−0.5 · min(s^−0.5, s · warmup^−1.5) with s = step + 1, a linear rise to
                  the peak d_model^−0.5 · warmup^−0.5 at s = warmup, then decay ∝ 1/√s.
- step_decay:     lr · gamma^⌊step / step_size⌋ (torch's StepLR; the ResNet-era staircase).

Warm-up convention (shared): step i < warmup gets lr · (i + 1) / warmup, so step 0 already takes a
small non-zero step and step warmup − 1 reaches lr.

`schedule_lr(name, step, ...)` calls any of them with one set of settings; each schedule uses:

    constant        lr, warmup
    warmup_cosine   lr, warmup, total, min_lr
    warmup_linear   lr, warmup, total, min_lr
    inverse_sqrt    lr, warmup, d_model   (d_model given: the paper's formula times lr, so lr = 1 is
                                           the paper and lr is the "factor" of the Annotated
                                           Transformer; d_model None: rescaled so the peak is lr)
    step_decay      lr, step_size, gamma  (no warm-up, no floor)

Settings a schedule does not use are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def _warmup(step: int, lr: float, warmup: int) -> float:
    return lr * (step + 1) / warmup


def constant(step: int, lr: float, warmup: int = 0) -> float:
    """lr, after a linear warm-up over `warmup` steps (none by default)."""
    return _warmup(step, lr, warmup) if step < warmup else lr


def warmup_cosine(step: int, lr: float, warmup: int, total: int, min_lr: float = 0.0) -> float:
    """Linear warm-up to lr, half a cosine down to min_lr at step `total`, min_lr after."""
    if step < warmup:
        return _warmup(step, lr, warmup)
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)  # 0 -> 1
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def warmup_linear(step: int, lr: float, warmup: int, total: int, min_lr: float = 0.0) -> float:
    """Linear warm-up to lr, a straight line down to min_lr at step `total`, min_lr after."""
    if step < warmup:
        return _warmup(step, lr, warmup)
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)  # 0 -> 1
    return lr - progress * (lr - min_lr)


def inverse_sqrt(step: int, warmup: int, d_model: int | None = None, scale: float = 1.0) -> float:
    """Noam: scale · d_model^−0.5 · min(s^−0.5, s·warmup^−1.5), s = step + 1 (so step 0 is not 0^−0.5).

    The peak, at s = warmup (step = warmup − 1), is scale · (d_model·warmup)^−0.5: 7e-4 for the
    paper's d_model = 512, warmup = 4000. With d_model=None the factor d_model^−0.5 is replaced by
    warmup^0.5, which makes the peak exactly `scale`: scale · min(√(warmup/s), s/warmup).
    """
    if warmup < 1:
        raise ValueError(f"inverse_sqrt needs warmup >= 1, got {warmup}")
    s = step + 1
    norm = d_model**-0.5 if d_model is not None else warmup**0.5
    return scale * norm * min(s**-0.5, s * warmup**-1.5)


def step_decay(step: int, lr: float, step_size: int, gamma: float = 0.1) -> float:
    """lr · gamma^⌊step / step_size⌋: multiply by gamma every step_size steps."""
    if step_size < 1:
        raise ValueError(f"step_decay needs step_size >= 1, got {step_size}")
    return lr * gamma ** (step // step_size)


SCHEDULES: dict[str, Callable[..., float]] = {
    "constant": constant,
    "warmup_cosine": warmup_cosine,
    "warmup_linear": warmup_linear,
    "inverse_sqrt": inverse_sqrt,
    "step_decay": step_decay,
}


def schedule_lr(name: str, step: int, *, lr: float, warmup: int = 0, total: int = 0, min_lr: float = 0.0,
                d_model: int | None = None, step_size: int | None = None, gamma: float = 0.1) -> float:
    """The rate at `step` of the schedule `name`, from one set of settings (table in the module doc)."""
    if name == "constant":
        return constant(step, lr, warmup)
    if name in ("warmup_cosine", "warmup_linear"):
        if total < 1:
            raise ValueError(f"schedule '{name}' needs total >= 1 (the step where it reaches min_lr)")
        return SCHEDULES[name](step, lr, warmup, total, min_lr)
    if name == "inverse_sqrt":
        return inverse_sqrt(step, warmup, d_model, scale=lr)
    if name == "step_decay":
        if step_size is None:
            raise ValueError("schedule 'step_decay' needs step_size (decay every step_size steps)")
        return step_decay(step, lr, step_size, gamma)
    raise ValueError(f"unknown schedule '{name}' ({', '.join(SCHEDULES)})")
