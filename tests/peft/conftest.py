"""Fixtures shared by the LoRA and QLoRA run tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmlab.models.bert import preset
from lmlab.recipes.pretrain_bert import BertDataConfig, pretrain_bert
from lmlab.train.config import TrainConfig

FORTUNES = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"


@pytest.fixture(scope="session")
def bert_run(tmp_path_factory) -> Path:
    """A bert-tiny run pretrained 4 steps on the test fortunes (one paragraph each), beside its corpus.txt."""
    folder = tmp_path_factory.mktemp("bert")
    texts = [" ".join(json.loads(line)["text"].split()) for line in FORTUNES.read_text().splitlines()]
    (folder / "corpus.txt").write_text("\n\n".join(texts), encoding="utf-8")
    train = TrainConfig(max_steps=4, batch_size=8, eval_every=4, eval_batches=1, log_every=1, warmup_steps=2,
                        lr=3e-3, min_lr=3e-4, device="cpu")
    pretrain_bert(str(folder / "corpus.txt"), preset("bert-tiny", dropout=0.0), train,
                  BertDataConfig(tokenizer_vocab_size=600, max_len=32, sentence_task="none"), folder / "run",
                  quiet=True)
    return folder / "run"
