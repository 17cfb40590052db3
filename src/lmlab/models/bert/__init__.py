"""BERT: a bidirectional Transformer encoder with MLM/NSP pre-training and task heads (Devlin et al. 2019)."""

from lmlab.models.bert.config import BertConfig
from lmlab.models.bert.model import (
    BertForMaskedLM,
    BertForPreTraining,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertOutput,
    PreTrainingOutput,
)
from lmlab.models.bert.presets import PRESETS, count_parameters, preset

__all__ = ["BertConfig", "BertModel", "BertOutput", "BertForPreTraining", "PreTrainingOutput", "BertForMaskedLM",
           "BertForSequenceClassification", "BertForTokenClassification", "PRESETS", "count_parameters", "preset"]
