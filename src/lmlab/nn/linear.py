"""nn.Linear whose product runs through lmlab.ops.linear (oneDNN for fp32 on the CPU).

Same parameters, state-dict keys and initialisation as nn.Linear, so checkpoints, Hugging Face
converters, LoRA injection and `isinstance(m, nn.Linear)` checks see no difference.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.ops.linear import linear


class Linear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (…, in_features) -> (…, out_features)
        return linear(x, self.weight, self.bias)
