"""What a distillation run is: the loss weights, the temperature, and how the student starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.config import check_choices


@dataclass(frozen=True)
class DistillConfig:
    temperature: float = 2.0        # T of both softmaxes in the soft loss (T = 1: the plain distributions)
    alpha_kl: float = 5.0           # weight of the soft-label loss T²·KL(teacher ‖ student)
    alpha_ce: float = 2.0           # weight of the hard-label cross-entropy (MLM targets / next token)
    alpha_cos: float = 1.0          # weight of 1 − cos(student hidden, teacher hidden)
    layers: str = "every-other"     # teacher layers the student keeps: every-other (0, 2, 4, …) or a list 0,2,4
    init: Literal["teacher", "random"] = "teacher"  # teacher: copy embeddings, those layers and the heads;
                                                    # random: fresh weights, as many layers as `layers` names

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        weights = (self.alpha_kl, self.alpha_ce, self.alpha_cos)
        if min(weights) < 0 or max(weights) == 0:
            raise ValueError(f"alpha_kl, alpha_ce and alpha_cos must be ≥ 0 and not all 0, got {weights}")
        check_choices(self, "init")
        if self.layers != "every-other" and not all(p.strip().isdigit() for p in self.layers.split(",")):
            raise ValueError(f"layers must be every-other or teacher layer numbers like 0,2,4; got '{self.layers}'")
