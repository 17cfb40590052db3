"""Objectives: `(model, batch) -> dict of losses`; the Trainer minimises `losses["loss"]`.

Causal language modelling (autoregressive pretraining): predict token t+1 from tokens ≤ t,
L = -(1/N) Σ log p(x_{t+1} | x_≤t), the cross-entropy of the next-token distribution
(lmlab.ops.losses.cross_entropy, optionally label-smoothed in either of its two definitions).
"""

from __future__ import annotations

import torch

from lmlab.ops.losses import cross_entropy


def causal_lm(model, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0,
              smoothing: str = "uniform") -> dict[str, torch.Tensor]:
    """batch: `input_ids` (B, T) and `labels` (B, T) = input_ids shifted left by one; -100 is ignored."""
    logits = model(batch["input_ids"])  # (B, T, V)
    loss = cross_entropy(logits, batch["labels"], label_smoothing, smoothing, ignore_index=-100)
    return {"loss": loss}


OBJECTIVES = {"causal_lm": causal_lm}
