"""Learning-rate schedules as pure functions of the step.

Warm-up + cosine (Loshchilov & Hutter 2017 for the cosine; linear warm-up as in GPT-2/3):
the rate rises linearly from 0 to `lr` over `warmup` steps, then follows half a cosine down to
`min_lr` at `total` steps, and stays there.
"""

from __future__ import annotations

import math


def warmup_cosine(step: int, lr: float, warmup: int, total: int, min_lr: float = 0.0) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)  # 0 -> 1
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)
