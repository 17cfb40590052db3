"""BERT: a bidirectional Transformer encoder with MLM/NSP pre-training and task heads (Devlin et al. 2019)."""

from lmlab.models.bert.config import BertConfig
from lmlab.models.bert.presets import PRESETS, count_parameters, preset

__all__ = ["BertConfig", "BertModel", "BertOutput", "BertForPreTraining", "PreTrainingOutput", "BertForMaskedLM",
           "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering", "PRESETS", "count_parameters", "preset"]

_MODEL = {"BertForMaskedLM", "BertForPreTraining", "BertForSequenceClassification", "BertForTokenClassification",
          "BertForQuestionAnswering", "BertModel", "BertOutput", "PreTrainingOutput"}


def __getattr__(name: str):
    """The model classes import torch: load them on first use, so that configs and presets stay light."""
    if name in _MODEL:
        from lmlab.models.bert import model
        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
