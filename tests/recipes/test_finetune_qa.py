"""`finetune_qa`: a short fine-tune on real Debian records with templated questions (loss falls, files written)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from lmlab.data.qa import QADataConfig, read_squad
from lmlab.errors import LmlabError
from lmlab.recipes.finetune_qa import finetune_qa
from lmlab.runs.run import Run
from lmlab.train.config import FINETUNE_TRAIN

DATA = Path(__file__).parents[1] / "data" / "qa_debian_templated.json"


def pretrain_tiny(folder: Path) -> Path:
    """A 2-layer d_model-64 BERT, 5 MLM steps on the fixture's contexts: an encoder and a WordPiece in seconds."""
    from lmlab.data.bert_pretraining import BertDataConfig
    from lmlab.models.bert import BertConfig
    from lmlab.recipes.pretrain_bert import pretrain_bert
    from lmlab.train.config import TrainConfig

    contexts = sorted({ex["context"] for ex in read_squad(DATA)})
    (folder / "corpus.txt").write_text("\n\n".join(contexts), encoding="utf-8")
    pretrain_bert(str(folder / "corpus.txt"), BertConfig(d_model=64, n_heads=2, n_layers=2, max_seq_len=128,
                                                         dropout=0.0),
                  TrainConfig(max_steps=5, batch_size=8, eval_every=5, eval_batches=1, warmup_steps=1, device="cpu"),
                  BertDataConfig(tokenizer_vocab_size=500, max_len=64, sentence_task="none"), folder / "bert",
                  quiet=True)
    return folder / "bert"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread: on a CPU shared by many processes two OpenMP threads wait on each other (steps ~50x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa")
    train = dataclasses.replace(FINETUNE_TRAIN, lr=2e-3, max_steps=60, warmup_steps=5, batch_size=16, eval_every=60,
                                eval_batches=4, log_every=5, device="cpu")
    res = finetune_qa(pretrain_tiny(folder), DATA, QADataConfig(max_len=64, stride=24, val_fraction=0.2), train,
                      folder / "qa", quiet=True)
    return folder / "qa", res


def test_loss_falls_and_the_run_answers(finetuned):
    run_dir, res = finetuned
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:2]) / 2, losses
    assert res["windows_train"] > res["n_train"]                       # long records: several windows each
    preds = json.loads((run_dir / "predictions.json").read_text())
    assert len(preds) == res["n_eval"] > 0 and 0 <= res["exact_match"] <= res["f1"] <= 100
    run = Run.open(run_dir, family="bert-qa")
    assert run.config("data").max_len == 64 and type(run.model()).__name__ == "BertForQuestionAnswering"


def test_refuses_a_window_longer_than_the_encoder(finetuned, tmp_path):
    encoder = finetuned[0].parent / "bert"
    with pytest.raises(LmlabError, match="max_len 256 is longer than the encoder's 128"):
        finetune_qa(encoder, DATA, QADataConfig(max_len=256), FINETUNE_TRAIN, tmp_path / "x", quiet=True)


def test_unanswerable_questions_train_and_score(finetuned, tmp_path):
    """SQuAD v2: a question about another package has no answer here; it trains on [CLS] and may answer ""."""
    doc = json.loads(DATA.read_text())
    names = [a["title"] for a in doc["data"]]
    for a, other in zip(doc["data"], names[1:] + names[:1]):
        a["paragraphs"][0]["qas"].append({"id": f"none/{a['title']}", "question": f"Which section is {other} in?",
                                          "answers": [], "is_impossible": True})
    (tmp_path / "v2.json").write_text(json.dumps(doc))
    train = dataclasses.replace(FINETUNE_TRAIN, max_steps=3, eval_every=3, eval_batches=1, device="cpu")
    res = finetune_qa(finetuned[0].parent / "bert", tmp_path / "v2.json",
                      QADataConfig(max_len=64, unanswerable=True, val_fraction=0.2), train, tmp_path / "v2", quiet=True)
    preds = json.loads((tmp_path / "v2" / "predictions.json").read_text())
    assert res["n_eval"] == len(preds) and sum(q.startswith("none/") for q in preds) == 8
