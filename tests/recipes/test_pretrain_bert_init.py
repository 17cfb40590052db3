"""`pretrain_bert(init=…)`: continued pretraining of an existing encoder on new text, with its own tokenizer.

The new text is tests/data/debian_descriptions_480.txt: 480 package descriptions (every 130th record's
"description" of /work/shared/data/debian/packages.jsonl, Debian 12), 8 to a paragraph. The init is a
bert-tiny pretrained briefly on Tiny Shakespeare, or a Hugging Face folder written by transformers.
"""

import json
from pathlib import Path

import pytest
import torch

from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.errors import LmlabError
from lmlab.models.bert import preset
from lmlab.peft.lora import LoRAConfig
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.runs.run import Run
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

DEBIAN = Path(__file__).parents[1] / "data" / "debian_descriptions_480.txt"
DATA = BertDataConfig(max_len=32, sentence_task="none")


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(max_steps=30, batch_size=16, eval_every=10, eval_batches=2, log_every=5,
                                 warmup_steps=3, lr=2e-3, min_lr=2e-4, weight_decay=0.01, device="cpu"), **kw})


@pytest.fixture(scope="module")
def base(tmp_path_factory, shakespeare_small) -> Path:
    """A bert-tiny pretrained 20 steps on Shakespeare (WordPiece of 500, positions 64)."""
    out = tmp_path_factory.mktemp("bert") / "base"
    pretrain_bert(str(shakespeare_small), preset("bert-tiny", dropout=0.0, max_seq_len=64), cfg(max_steps=20),
                  BertDataConfig(tokenizer_vocab_size=500, max_len=48, sentence_task="nsp"), out, quiet=True)
    return out


def val_mlm(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["val_mlm_loss"]) for r in read_metrics(run / "metrics.jsonl") if "val_mlm_loss" in r]


def test_init_from_a_run_keeps_its_weights_tokenizer_and_shape_and_learns(base, tmp_path):
    out = tmp_path / "cont"
    pretrain_bert(str(DEBIAN), preset("bert-base"), cfg(), DATA, out, quiet=True, init=base)
    meta = json.loads((out / "config.json").read_text())
    assert meta["init"] == str(base) and meta["model"] == json.loads((base / "config.json").read_text())["model"]
    assert (out / "tokenizer.json").read_text() == (base / "tokenizer.json").read_text()
    losses = val_mlm(out)
    assert losses[0][0] == 0 and [s for s, _ in losses] == [0, 10, 20, 30]  # step 0: the init, before training
    assert losses[-1][1] < losses[0][1] - 0.3


def test_resume_of_an_init_run_matches_the_straight_run(base, tmp_path):
    pretrain_bert(str(DEBIAN), None, cfg(max_steps=12, eval_every=4, schedule="constant"), DATA, tmp_path / "a",
                  quiet=True, init=base)
    pretrain_bert(str(DEBIAN), None, cfg(max_steps=8, eval_every=4, schedule="constant"), DATA, tmp_path / "b",
                  quiet=True, init=base)
    pretrain_bert(None, None, cfg(max_steps=12, eval_every=4, schedule="constant"), None, tmp_path / "b",
                  resume=True, quiet=True)
    a, b = val_mlm(tmp_path / "a"), val_mlm(tmp_path / "b")
    assert [s for s, _ in a] == [s for s, _ in b] == [0, 4, 8, 12]
    assert [x for _, x in a] == pytest.approx([x for _, x in b], rel=1e-5)


def test_lora_wraps_the_init_and_resumes(base, tmp_path):
    out, lora = tmp_path / "lora", LoRAConfig(r=4, alpha=8, targets=("qkv",))
    pretrain_bert(str(DEBIAN), None, cfg(max_steps=8, eval_every=4), DATA, out, quiet=True, init=base, lora=lora)
    pretrain_bert(None, None, cfg(max_steps=12, eval_every=4), None, out, resume=True, quiet=True)
    assert [s for s, _ in val_mlm(out)] == [0, 4, 8, 12]
    merged, init = Run.open(out).model().state_dict(), Run.open(base).model().state_dict()
    assert torch.equal(merged["bert.emb.tok_emb.weight"], init["bert.emb.tok_emb.weight"])  # frozen: unchanged
    assert not torch.equal(merged["bert.blocks.0.attn.q_proj.weight"], init["bert.blocks.0.attn.q_proj.weight"])


def test_init_from_a_classifier_run_keeps_its_encoder(tmp_path, pretrain_fortunes_bert):
    from lmlab.data.classification import ClassificationDataConfig
    from lmlab.recipes.finetune_classify import finetune_classify
    from lmlab.train.config import FinetuneConfig
    bert = pretrain_fortunes_bert(tmp_path, steps=2, vocab=400, max_len=32, batch=8, lr=3e-3)
    data = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"
    finetune_classify(bert, data, ClassificationDataConfig(max_len=32), cfg(max_steps=2, eval_every=2, warmup_steps=1),
                      FinetuneConfig(pooling="mean"), tmp_path / "cls", quiet=True)
    with pytest.warns(UserWarning, match="heads are newly initialised"):
        pretrain_bert(str(DEBIAN), None, cfg(max_steps=2, eval_every=2), DATA, tmp_path / "cont", quiet=True,
                      init=tmp_path / "cls")
    encoder = Run.open(tmp_path / "cls").model().bert.state_dict()
    cont = Run.open(tmp_path / "cont")
    assert cont.config("model") == Run.open(tmp_path / "cls").config("model")
    assert set(encoder) < set(Run.open(tmp_path / "cont").model().bert.state_dict())  # a pooler was added


@pytest.mark.parametrize("kw,needle", [
    (dict(lora=LoRAConfig(r=4)), "without --init that base is random"),
    (dict(init="GPT"), "holds a 'gpt' run"),
    (dict(init="BASE", tokenizer="BASE/tokenizer.json"), "brings its own tokenizer"),
    (dict(init="BASE", data=BertDataConfig(max_len=128)), "longer than the 64 positions"),
    (dict(init="NOWHERE"), "has no config.json"),
])
def test_refusals(base, tmp_path, kw, needle):
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"family": "gpt", "model": {}}))
    places = {"GPT": str(gpt), "BASE": str(base), "NOWHERE": str(tmp_path / "nowhere")}
    kw = {k: places.get(v, v.replace("BASE", str(base))) if isinstance(v, str) else v for k, v in kw.items()}
    data = kw.pop("data", DATA)
    with pytest.raises(LmlabError, match=needle):
        pretrain_bert(str(DEBIAN), preset("bert-tiny"), cfg(), data, tmp_path / "out", quiet=True, **kw)
    assert not (tmp_path / "out").exists()
