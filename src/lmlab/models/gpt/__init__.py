"""GPT: a decoder-only Transformer language model (Radford et al. 2018, 2019; Brown et al. 2020)."""

from lmlab.models.gpt.config import GPTConfig
from lmlab.models.gpt.model import GPT
from lmlab.models.gpt.presets import PRESETS, preset

__all__ = ["GPT", "GPTConfig", "PRESETS", "preset"]
