"""Weight initialisation schemes.

GPT-2 (Radford et al. 2019, §2.3): every weight ~ N(0, 0.02), biases 0, norms 1/0; the weights
of the projections that write into the residual stream are scaled by 1/√(2·n_layers), since
each of the 2·n_layers sub-layers adds its output to the same stream.
"""

from __future__ import annotations

import math

from torch import nn

RESIDUAL_PROJECTIONS = ("out_proj.weight", "down.weight")


def gpt2_init_(model: nn.Module, n_layers: int, std: float = 0.02) -> None:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    scaled = std / math.sqrt(2 * n_layers)
    for name, p in model.named_parameters():
        if name.endswith(RESIDUAL_PROJECTIONS):
            nn.init.normal_(p, mean=0.0, std=scaled)
