"""BERT pretraining on real text: MLM loss falls and MLM accuracy rises; the sentence task learns."""

import json
import math

import pytest

from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.models.bert import preset
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

MODEL = preset("bert-tiny", dropout=0.0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from lmlab.data.corpora import load_text
    path = tmp_path_factory.mktemp("data") / "shakespeare.txt"
    path.write_text(load_text("tinyshakespeare")[:60_000], encoding="utf-8")
    return path


def train_cfg(**kw):
    return TrainConfig(**{**dict(max_steps=100, batch_size=16, eval_every=20, eval_batches=4, log_every=10,
                                 warmup_steps=10, lr=1e-3, min_lr=1e-4, weight_decay=0.01), **kw})


@pytest.mark.parametrize("masking,task", [("token", "nsp"), ("whole_word", "sop"), ("span", "none")])
def test_pretraining_lowers_mlm_loss_and_raises_accuracy(corpus, tmp_path, masking, task):
    data = BertDataConfig(tokenizer_vocab_size=600, max_len=48, masking=masking, sentence_task=task)
    final = pretrain_bert(str(corpus), MODEL, train_cfg(), data, tmp_path / "run", quiet=True)
    evals = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "val_mlm_loss" in r]
    first, last = evals[0], evals[-1]
    vocab = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["vocab_size"]
    # a short run gets BERT to the unigram stage: far below the uniform guess ln V, far above chance 1/V
    assert last["val_mlm_loss"] < first["val_mlm_loss"] - 0.1
    assert last["val_mlm_loss"] < math.log(vocab) - 0.5
    assert last["val_mlm_acc"] > 10 / vocab
    assert ("val_sentence_loss" in final) == (task != "none")
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["family"] == "bert" and meta["data"]["masking"] == masking
    assert (tmp_path / "run" / "tokenizer.json").is_file() and (tmp_path / "run" / "model.safetensors").is_file()


def test_resume_reproduces_the_uninterrupted_run(corpus, tmp_path):
    """10 steps, then --resume to 20, logs what 20 steps in one go log (same losses, same masks, same
    batches); a constant schedule so that the first part's max_steps does not shape the learning rate."""
    data = BertDataConfig(tokenizer_vocab_size=300, max_len=32, masking="whole_word", sentence_task="sop")
    cfg = lambda steps: train_cfg(max_steps=steps, eval_every=5, eval_batches=2, log_every=1, schedule="constant",
                                  warmup_steps=3)
    # one tokenizer for both runs (two WordPiece trainings may break merge ties differently)
    pretrain_bert(str(corpus), MODEL, cfg(20), data, tmp_path / "straight", quiet=True)
    tok = tmp_path / "straight" / "tokenizer.json"
    pretrain_bert(str(corpus), MODEL, cfg(10), data, tmp_path / "resumed", quiet=True, tokenizer=tok)
    pretrain_bert(None, None, cfg(20), None, tmp_path / "resumed", resume=True, quiet=True)
    a, b = (read_metrics(tmp_path / name / "metrics.jsonl") for name in ("straight", "resumed"))
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("elapsed", "tok_per_s", "time")} for r in rows]
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for x, y in zip(strip(a), strip(b), strict=True):
        assert x.keys() == y.keys()
        for k in x:
            assert x[k] == pytest.approx(y[k], rel=1e-6, abs=1e-7), (x["step"], k)


def test_resume_needs_a_bert_run(corpus, tmp_path):
    from lmlab.errors import LmlabError
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text(json.dumps({"family": "gpt", "model": {}, "data": {},
                                                               "source": "x"}))
    with pytest.raises(LmlabError, match="not a 'bert' run"):
        pretrain_bert(None, None, train_cfg(), None, tmp_path / "gpt", resume=True, quiet=True)


def test_a_given_tokenizer_is_used_and_must_be_wordpiece(corpus, tmp_path):
    from lmlab.data.tokenizers import train_tokenizer
    from lmlab.errors import LmlabError
    wp = train_tokenizer("wordpiece", corpus.read_text(encoding="utf-8"), 350)
    wp.save(tmp_path / "wp.json")
    pretrain_bert(str(corpus), MODEL, train_cfg(max_steps=1, eval_every=1, eval_batches=1), BertDataConfig(),
                  tmp_path / "run", quiet=True, tokenizer=tmp_path / "wp.json")
    assert (tmp_path / "run" / "tokenizer.json").read_text() == (tmp_path / "wp.json").read_text()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["vocab_size"] == wp.vocab_size
    train_tokenizer("char", "abc").save(tmp_path / "char.json")
    with pytest.raises(LmlabError, match="BERT needs WordPiece"):
        pretrain_bert(str(corpus), MODEL, train_cfg(), BertDataConfig(), tmp_path / "run2", quiet=True,
                      tokenizer=tmp_path / "char.json")
