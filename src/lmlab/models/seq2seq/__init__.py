"""The encoder-decoder Transformer (Vaswani et al. 2017) for sequence-to-sequence tasks such as translation."""

from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.presets import PRESETS, PUBLISHED, count_parameters, preset

__all__ = ["Seq2SeqConfig", "Seq2SeqTransformer", "PRESETS", "PUBLISHED", "count_parameters", "preset"]


def __getattr__(name: str):
    """The model classes import torch: load them on first use, so that configs and presets stay light."""
    if name in ('Seq2SeqTransformer',):
        from lmlab.models.seq2seq import model
        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
