"""The encoder-decoder Transformer (Vaswani et al. 2017) for sequence-to-sequence tasks such as translation."""

from lmlab.models.seq2seq.config import Seq2SeqConfig
from lmlab.models.seq2seq.model import Seq2SeqTransformer
from lmlab.models.seq2seq.presets import PRESETS, PUBLISHED, count_parameters, preset

__all__ = ["Seq2SeqConfig", "Seq2SeqTransformer", "PRESETS", "PUBLISHED", "count_parameters", "preset"]
