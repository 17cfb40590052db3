"""`lmlab train bert --init HF_FOLDER` starts from exactly the Hugging Face model: same MLM logits, same loss.

A transformers BertForMaskedLM built from a config (random weights, jittered so that zero biases and unit
LayerNorm gains are tested too) is saved with a BertTokenizerFast to a folder. Tolerances: MLM logits agree
to 1e-5 (max abs difference, fp32, eval mode, real tokens); the run's step-0 validation MLM loss (logged
before any step) equals transformers' mean masked-token cross-entropy on the same validation batches to 1e-5.
The folder has no pooler or NSP head: they start fresh, with a warning. Then the loss falls as it trains.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lmlab.data.bert_pretraining import BertDataConfig, mlm_batches, split_documents
from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import train_tokenizer
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.runs.hf import load_bert_init
from lmlab.runs.run import Run
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

transformers = pytest.importorskip("transformers")

DEBIAN = Path(__file__).parents[1] / "data" / "debian_descriptions_480.txt"
TOL = 1e-5
DATA = BertDataConfig(max_len=32, sentence_task="none")
TRAIN = TrainConfig(max_steps=20, batch_size=16, eval_every=20, eval_batches=2, log_every=10, warmup_steps=2,
                    lr=3e-3, min_lr=3e-4, device="cpu")


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("hf") / "bert-mlm"
    folder.mkdir()
    wordpiece = train_tokenizer("wordpiece", DEBIAN.read_text(encoding="utf-8"), 400)
    vocab = sorted(wordpiece.tok.get_vocab().items(), key=lambda kv: kv[1])
    (folder / "vocab.txt").write_text("".join(f"{token}\n" for token, _ in vocab), encoding="utf-8")
    transformers.BertTokenizerFast.from_pretrained(folder).save_pretrained(folder)  # tokenizer.json too
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=256, max_position_embeddings=64, attn_implementation="eager")
    hf = transformers.BertForMaskedLM(cfg)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    hf.save_pretrained(folder)
    return folder, hf.eval()


def test_the_init_computes_the_hf_mlm_logits(hf_folder):
    folder, hf = hf_folder
    with pytest.warns(UserWarning, match="newly initialised"):  # pooler and NSP head: BertForMaskedLM has neither
        model, tok = load_bert_init(folder)
    model.eval()
    text = ["Simple text-based mixer control program", "software for continuation problems in ODE"]
    enc = transformers.BertTokenizerFast.from_pretrained(folder)(text, padding=True, return_tensors="pt")
    assert [tok.encode(t) for t in text] == [[i for i in row if i != 0][1:-1] for row in enc["input_ids"].tolist()]
    with torch.no_grad():
        ours = model(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]).mlm_logits
        theirs = hf(**enc).logits
    real = enc["attention_mask"].bool()
    assert (ours[real] - theirs[real]).abs().max().item() <= TOL


def test_step_zero_loss_is_the_hf_loss_and_training_lowers_it(hf_folder, tmp_path):
    folder, hf = hf_folder
    with pytest.warns(UserWarning, match="newly initialised"):
        pretrain_bert(str(DEBIAN), None, TRAIN, DATA, tmp_path / "run", quiet=True, init=folder)
    evals = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "val_mlm_loss" in r]
    assert [r["step"] for r in evals] == [0, 20]
    # the same validation batches as the run's (fixed masks), scored by transformers
    train_docs, val_docs = split_documents(load_text(str(DEBIAN)), DATA.val_fraction, str(DEBIAN))
    _, val, _ = mlm_batches(train_docs, val_docs, Run.open(tmp_path / "run").tokenizer(), DATA, TRAIN.batch_size,
                            TRAIN.seed, TRAIN.eval_batches)
    with torch.no_grad():
        losses = [hf(input_ids=b["input_ids"], attention_mask=b["attention_mask"].long(),
                     token_type_ids=b.get("token_type_ids"), labels=b["labels"]).loss.item() for b in val]
    assert evals[0]["val_mlm_loss"] == pytest.approx(sum(losses) / len(losses), abs=TOL)
    assert evals[-1]["val_mlm_loss"] < evals[0]["val_mlm_loss"] - 0.2  # random weights: it starts near ln 400


def test_lora_on_the_hf_init_loads_into_peft_on_the_hf_model(hf_folder, tmp_path):
    """LoRA adapters trained on the folder's weights (`--init FOLDER --lora`) are a peft adapter of that very
    folder: peft's model computes the MLM logits of lmlab's merged run (to 1e-5)."""
    peft = pytest.importorskip("peft")
    from lmlab.peft.lora import LoRAConfig
    folder, base = hf_folder
    train = TrainConfig(max_steps=4, batch_size=8, eval_every=4, eval_batches=1, warmup_steps=1, lr=1e-2,
                        device="cpu")
    with pytest.warns(UserWarning, match="newly initialised"):
        pretrain_bert(str(DEBIAN), None, train, DATA, tmp_path / "lora", quiet=True, init=folder,
                      lora=LoRAConfig(r=4, alpha=8, targets=("qkv",)))
    adapter = tmp_path / "lora" / "adapter"
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(folder)
    hf = peft.PeftModel.from_pretrained(transformers.BertForMaskedLM.from_pretrained(folder), adapter).eval()
    ours = Run.open(tmp_path / "lora").model().eval()
    ids = torch.randint(5, 400, (2, 12), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        diff = (ours(ids).mlm_logits - hf(input_ids=ids).logits).abs().max().item()
        moved = (ours(ids).mlm_logits - base(input_ids=ids).logits).abs().max().item()
    assert diff <= TOL and moved > 1e-3  # the adapters did train


def test_a_bertmodel_folder_gets_a_fresh_mlm_head_and_keeps_its_encoder(hf_folder, tmp_path):
    folder, _ = hf_folder
    torch.manual_seed(0)
    enc = transformers.BertModel(transformers.BertConfig(vocab_size=400, hidden_size=32, num_hidden_layers=1,
                                                         num_attention_heads=2, intermediate_size=64,
                                                         max_position_embeddings=64)).eval()
    enc.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    with pytest.warns(UserWarning, match=r"has no mlm\.decoder\.bias, mlm\.dense\.bias.*newly initialised"):
        model, _ = load_bert_init(tmp_path)
    ids = torch.randint(5, 400, (2, 10), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert (model.eval().bert(ids).hidden - enc(input_ids=ids).last_hidden_state).abs().max().item() <= TOL
