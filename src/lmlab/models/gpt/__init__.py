"""GPT: a decoder-only Transformer language model (Radford et al. 2018, 2019; Brown et al. 2020)."""

from lmlab.models.gpt.config import GPTConfig
from lmlab.models.gpt.presets import PRESETS, preset

__all__ = ["GPT", "GPTConfig", "PRESETS", "preset"]


def __getattr__(name: str):
    """The model classes import torch: load them on first use, so that configs and presets stay light."""
    if name in ('GPT',):
        from lmlab.models.gpt import model
        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
