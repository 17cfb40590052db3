"""Task heads on a pretrained encoder, each a family of its own runs (`lmlab finetune TASK`)."""

from lmlab.runs.families.language import BERT
from lmlab.runs.families.registry import TRAIN, Family, register

register(Family(
    name="bert-classifier",
    summary="a BERT encoder with a sequence-classification head (`lmlab finetune classify`)",
    configs={"model": "lmlab.models.bert.config:BertConfig", "train": TRAIN,
             "data": "lmlab.data.classification:ClassificationDataConfig",
             "finetune": "lmlab.train.config:FinetuneConfig"},
    model="lmlab.models.bert.model:BertForSequenceClassification.from_sections", model_takes="sections",
    presets="lmlab.models.bert.presets:PRESETS",
    count="lmlab.models.bert.presets:count_parameters",
    tokenizer="the encoder's WordPiece",
    hf={"bert": BERT},  # exported as BertForSequenceClassification; a BERT folder imports as "bert" (registered first)
    commands=("info", "lora", "hf"),
))

register(Family(
    name="bert-ner",
    summary="a BERT encoder with a token-classification head, e.g. named entities (`lmlab finetune ner`)",
    configs={"model": "lmlab.models.bert.config:BertConfig", "train": TRAIN,
             "data": "lmlab.data.conll:NerDataConfig", "finetune": "lmlab.train.config:TaggerConfig"},
    model="lmlab.models.bert.model:BertForTokenClassification.from_sections", model_takes="sections",
    presets="lmlab.models.bert.presets:PRESETS",
    count="lmlab.models.bert.presets:count_parameters",
    tokenizer="the encoder's WordPiece",
    hf={"bert": BERT},  # exported as BertForTokenClassification with id2label; a BERT folder imports as "bert"
    commands=("info", "hf", "tag"),
))

register(Family(
    name="bert-qa",
    summary="a BERT encoder with a start/end span head for extractive QA (`lmlab finetune qa`, `lmlab answer`)",
    configs={"model": "lmlab.models.bert.config:BertConfig", "train": TRAIN, "data": "lmlab.data.qa:QADataConfig"},
    model="lmlab.models.bert.model:BertForQuestionAnswering",
    presets="lmlab.models.bert.presets:PRESETS",
    count="lmlab.models.bert.presets:count_qa_parameters",
    tokenizer="the encoder's WordPiece",
    hf={"bert": BERT},  # exported as BertForQuestionAnswering; a BERT folder imports as "bert" (registered first)
    commands=("info", "hf", "answer"),
))
