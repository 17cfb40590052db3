"""ELMo: a character-CNN token encoder and two LSTM language models, forward and backward (Peters et al. 2018)."""

from lmlab.models.elmo.config import ElmoConfig
from lmlab.models.elmo.presets import PRESETS, count_parameters, preset

__all__ = ["ElmoConfig", "Elmo", "CharCNN", "Highway", "LSTMStack", "ScalarMix", "PRESETS", "count_parameters",
           "preset"]

_MODEL = {"Elmo", "CharCNN", "Highway", "LSTMStack", "ScalarMix"}


def __getattr__(name: str):
    """The model classes import torch: load them on first use, so that configs and presets stay light."""
    if name in _MODEL:
        from lmlab.models.elmo import model
        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
