"""lmlab.train.config: the configs refuse bad settings."""

from __future__ import annotations

import pytest

from lmlab.train.config import FinetuneConfig


def test_config_refuses_unknown_pooling():
    with pytest.raises(ValueError, match="pooling"):
        FinetuneConfig(pooling="max")
