"""lmlab.train.config: the configs refuse bad settings."""

from __future__ import annotations

import pytest

from lmlab.train.config import FinetuneConfig, TrainConfig


def test_config_refuses_unknown_pooling():
    with pytest.raises(ValueError, match="pooling"):
        FinetuneConfig(pooling="max")


@pytest.mark.parametrize("key", ["lr", "min_lr", "grad_clip", "time_budget", "weight_decay"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_numbers_must_be_finite(key, value):
    with pytest.raises(ValueError, match=f"{key} must be a finite number"):
        TrainConfig(**{key: value})
