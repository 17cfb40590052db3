"""Objectives: `(model, batch) -> dict of losses`; the Trainer minimises `losses["loss"]`.

Causal language modelling (autoregressive pretraining): predict token t+1 from tokens ≤ t,
L = -(1/N) Σ log p(x_{t+1} | x_≤t), the cross-entropy of the next-token distribution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def causal_lm(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """batch: `input_ids` (B, T) and `labels` (B, T) = input_ids shifted left by one; -100 is ignored."""
    logits = model(batch["input_ids"])  # (B, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1).float(), batch["labels"].flatten(), ignore_index=-100)
    return {"loss": loss}


OBJECTIVES = {"causal_lm": causal_lm}
