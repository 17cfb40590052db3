"""Fine-tuning a pretrained BERT for classification on real text: three fortune-cookie topics
(computers, food, law; 150 texts of at most 60 words each: tests/data/fortunes_3topics.jsonl, a seeded
sample of ../shared/data/fortunes/fortunes.en.jsonl, from Debian's `fortunes`, BSD fortune data).
A bert-tiny pretrained here for a few dozen steps, then fine-tuned, beats the majority class on the
held-out test split; frozen layers stay bit-identical. (macro-F1 and the confusion matrix against
scikit-learn: tests/tools/test_classification.py.)"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from lmlab.config import config_from_dict
from lmlab.data.classification import (
    ClassificationDataConfig,
    doc_batches,
    encode_examples,
    keep_labels,
    read_examples,
    split_examples,
)
from lmlab.data.tokenizers import TextTokenizer
from lmlab.io.checkpoint import load_weights
from lmlab.models.bert import BertConfig
from lmlab.models.bert.model import BertForSequenceClassification
from lmlab.recipes.finetune_classify import finetune_classify, freeze_lower_layers, predict
from lmlab.runs.hf import load_bert_encoder
from lmlab.train.config import FINETUNE_TRAIN, FinetuneConfig, TrainConfig

DATA = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, pretrain_fortunes_bert) -> Path:
    """bert-tiny, MLM on the fixture's texts (one per paragraph), 30 steps: a few seconds."""
    return pretrain_fortunes_bert(tmp_path_factory.mktemp("bert"), steps=30, vocab=800, max_len=48, batch=16,
                                  lr=1e-3)


def train_cfg(**kw) -> TrainConfig:
    return dataclasses.replace(FINETUNE_TRAIN, **{**dict(lr=1e-3, max_steps=100, warmup_steps=10, batch_size=16,
                                                         eval_every=50, device="cpu"), **kw})


def test_finetuning_beats_the_majority_class(pretrained, tmp_path):
    out = tmp_path / "cls"
    res = finetune_classify(pretrained, DATA, ClassificationDataConfig(max_len=48), train_cfg(), FinetuneConfig(),
                            out, quiet=True)
    assert res["labels"] == ["computers", "food", "law"] and res["n_test"] == 45
    assert res["majority_accuracy"] == pytest.approx(1 / 3)
    assert res["test_accuracy"] > res["majority_accuracy"] + 0.1, res
    assert res["test_macro_f1"] > 0.3, res  # always predicting one class: 1/6
    assert sum(map(sum, res["confusion_matrix"])) == 45
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.jsonl", "loss.png",
                 "results.json", "confusion.png"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "config.json").read_text())
    assert meta["family"] == "bert-classifier" and meta["labels"] == res["labels"]
    assert json.loads((out / "results.json").read_text())["test_accuracy"] == res["test_accuracy"]
    # the saved run loads back into a classifier
    model = BertForSequenceClassification(config_from_dict(BertConfig, meta["model"]), len(meta["labels"]))
    load_weights(out, model)


def test_val_accuracy_counts_every_validation_text(pretrained, tmp_path):
    """Batches of 4 split the 45 validation texts 11 × 4 + 1: results.json's val_accuracy is the fraction of texts
    right (as the saved model predicts them), not the trainer's mean over batches."""
    out = tmp_path / "cls"
    res = finetune_classify(pretrained, DATA, ClassificationDataConfig(max_len=48), train_cfg(max_steps=20,
                            batch_size=4, eval_every=20), FinetuneConfig(), out, quiet=True)
    meta = json.loads((out / "config.json").read_text())
    model = BertForSequenceClassification(config_from_dict(BertConfig, meta["model"]), len(meta["labels"]))
    load_weights(out, model)
    data_cfg = config_from_dict(ClassificationDataConfig, meta["data"])
    _, val_ex, _ = split_examples(keep_labels(read_examples(DATA), data_cfg.labels), data_cfg.val_fraction,
                                  data_cfg.test_fraction, data_cfg.split_seed)
    tok = TextTokenizer.load(out / "tokenizer.json", model_vocab_size=model.bert.cfg.vocab_size)
    val = doc_batches(encode_examples(val_ex, tok, res["labels"], data_cfg), 16, 0)
    y_val, p_val = predict(model, val, torch.device("cpu"))
    assert len(y_val) == res["n_val"] == len(val_ex) == 45
    assert res["val_accuracy"] == sum(t == q for t, q in zip(y_val, p_val)) / 45


def test_frozen_layers_do_not_move_and_windows_are_pooled(pretrained, tmp_path):
    encoder, _ = load_bert_encoder(pretrained)
    frozen = freeze_lower_layers(encoder, 1)
    assert frozen and all(n.startswith(("emb.", "blocks.0.")) for n in frozen)
    assert not any(p.requires_grad for p in [*encoder.emb.parameters(), *encoder.blocks[0].parameters()])
    assert all(p.requires_grad for p in encoder.blocks[1].parameters())
    assert freeze_lower_layers(load_bert_encoder(pretrained)[0], 0) == []

    before = {k: v.clone() for k, v in load_bert_encoder(pretrained)[0].state_dict().items()}
    out = tmp_path / "frozen"
    data = ClassificationDataConfig(max_len=16, truncation="sliding-window", stride=7)
    res = finetune_classify(pretrained, DATA, data, train_cfg(max_steps=8, eval_every=8, lr=1e-2),
                            FinetuneConfig(freeze_layers=1), out, quiet=True)
    assert res["n_test"] == 45  # one prediction per text, however many windows
    meta = json.loads((out / "config.json").read_text())
    model = BertForSequenceClassification(config_from_dict(BertConfig, meta["model"]), 3)
    load_weights(out, model)
    after = model.bert.state_dict()
    for name, tensor in before.items():
        same = torch.equal(after[name], tensor)
        assert same == name.startswith(("emb.", "blocks.0.")), name
