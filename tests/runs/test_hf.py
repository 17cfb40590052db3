"""`lmlab hf import/export` (lmlab.runs.hf): a trained GPT-2, Llama or BERT run goes out to transformers and
comes back with the same logits (fp32, ≤ 1e-5); an HF BERT folder becomes a "bert" run that fine-tuning and
embedding take; `load_bert_encoder` reads an encoder from either kind of folder."""

import json

import pytest
import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.io.hf import load_hf
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.runs.hf import load_bert_encoder
from lmlab.runs.run import Run
from lmlab.train.config import TrainConfig

transformers = pytest.importorskip("transformers")


# ---- GPT-2 ---------------------------------------------------------------------------------------------
def test_gpt2_export_then_import_round_trip(shakespeare_small, tmp_path, capsys):
    from transformers import GPT2LMHeadModel
    run = tmp_path / "run"
    assert main(["train", "gpt", "--data", str(shakespeare_small), "--preset", "tiny", "--max_steps", "2",
                 "--eval_every", "2", "--eval_batches", "1", "--batch_size", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["hf", "export", str(run), "--out", str(tmp_path / "hf")]) == 0
    assert (tmp_path / "hf" / "tokenizer.json").is_file()
    hf = GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    ours = Run.open(run).model()
    x = torch.randint(0, ours.cfg.vocab_size, (2, 16))
    torch.testing.assert_close(hf(x).logits, ours.eval()(x), atol=1e-5, rtol=0)  # fp32 ≤ 1e-5

    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "back")]) == 0
    back_run = Run.open(tmp_path / "back")
    back, _ = back_run.model(), back_run.tokenizer()
    assert torch.equal(back.eval()(x), ours(x))
    assert main(["generate", str(tmp_path / "back"), "--prompt", "First", "--max-new-tokens", "5"]) == 0
    # never overwrite silently
    assert main(["hf", "export", str(run), "--out", str(tmp_path / "hf")]) == 2
    assert "--overwrite" in capsys.readouterr().err


# ---- Llama ---------------------------------------------------------------------------------------------
def test_import_llama_then_info_then_export(tmp_path, capsys):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=172, vocab_size=300, max_position_embeddings=128,
                      rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "hf")

    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert main(["info", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    for line in ("pos_embedding   rotary", "norm            rmsnorm", "activation      swiglu",
                 "n_kv_heads      2", "rope_theta      500000.0", "tie_embeddings  False"):
        assert line in out
    n = sum(p.numel() for p in LlamaForCausalLM(cfg).parameters())
    assert f"parameters      {n:,}" in out  # lmlab's count from the shapes = HF's count

    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "back")]) == 0
    assert "LlamaForCausalLM" in capsys.readouterr().out
    a, b = load_file(tmp_path / "hf" / "model.safetensors"), load_file(tmp_path / "back" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert load_hf(tmp_path / "back").cfg.rope_theta == 500000.0


# ---- BERT ----------------------------------------------------------------------------------------------
def _hf_folder(path, vocab: list[str], with_heads: bool = True):
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    model = (transformers.BertForPreTraining if with_heads else transformers.BertModel)(cfg).eval()
    model.save_pretrained(path)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return model


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", ".", "a", "dog"]


def test_import_an_hf_bert_folder_with_vocab_txt(tmp_path, capsys):
    hf = _hf_folder(tmp_path / "hf", VOCAB)
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert "lmlab embed" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["family"] == "bert"
    ours = Run.open(tmp_path / "run").model().eval()
    ids = torch.tensor([[2, 5, 6, 10, 7, 8, 5, 9, 11, 3]])
    with torch.no_grad():
        ref, out = hf(ids), ours(ids)
    torch.testing.assert_close(out.mlm_logits, ref.prediction_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.nsp_logits, ref.seq_relationship_logits, atol=1e-5, rtol=0)
    encoder, tok = load_bert_encoder(tmp_path / "run")                    # what finetune/embed load
    assert tok.encode_pair("The cats sat.")["input_ids"] == [2, 5, 6, 10, 7, 11, 3]
    assert main(["embed", str(tmp_path / "run"), "the cat", "--out", str(tmp_path / "e.json")]) == 0


def test_import_a_bare_encoder_notes_the_fresh_heads(tmp_path, capsys):
    _hf_folder(tmp_path / "hf", VOCAB, with_heads=False)
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert "newly initialised" in capsys.readouterr().out


def test_export_a_trained_bert_run_and_back(tmp_path, capsys):
    from lmlab.data.corpora import load_text
    from lmlab.models.bert import preset
    corpus = tmp_path / "text.txt"
    corpus.write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    pretrain_bert(str(corpus), preset("bert-tiny", dropout=0.0), TrainConfig(max_steps=2, eval_every=2, eval_batches=1,
                  batch_size=4), BertDataConfig(tokenizer_vocab_size=300), tmp_path / "run", quiet=True)
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "hf")]) == 0
    assert "BertForPreTraining" in capsys.readouterr().out
    hf = transformers.BertForPreTraining.from_pretrained(tmp_path / "hf").eval()
    hf_tok = transformers.BertTokenizerFast.from_pretrained(tmp_path / "hf")   # reads vocab.txt/tokenizer.json
    ours = Run.open(tmp_path / "run").model().eval()
    _, tok = load_bert_encoder(tmp_path / "run")
    text = "To be, or not to be"
    ids = torch.tensor([tok.encode_pair(text)["input_ids"]])
    assert hf_tok(text)["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).mlm_logits, hf(ids).prediction_logits, atol=1e-5, rtol=0)
    assert (tmp_path / "hf" / "vocab.txt").read_text().splitlines()[:5] == VOCAB[:5]
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "back")]) == 0
    back = Run.open(tmp_path / "back").model().eval()
    with torch.no_grad():
        assert torch.equal(back(ids).mlm_logits, ours(ids).mlm_logits)
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "hf")]) == 2  # never overwrite


def test_load_bert_encoder_from_a_run_and_from_an_hf_folder(shakespeare_small, tmp_path):
    from lmlab.errors import LmlabError
    from lmlab.models.bert import preset
    model = preset("bert-tiny", dropout=0.0)
    pretrain_bert(str(shakespeare_small), model, TrainConfig(max_steps=2, batch_size=16, eval_every=2, eval_batches=1,
                  warmup_steps=1), BertDataConfig(tokenizer_vocab_size=300), tmp_path / "run", quiet=True)
    enc, tok = load_bert_encoder(tmp_path / "run")
    assert tok.kind == "wordpiece" and enc.pooler is not None
    enc.eval()
    ids = torch.tensor([tok.encode_pair("to be or not")["input_ids"]])
    assert enc(ids).hidden.shape == (1, ids.size(1), model.d_model)
    hf = transformers.BertModel(transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                        intermediate_size=64, vocab_size=tok.vocab_size))
    hf.save_pretrained(tmp_path / "hf")
    tok.save(tmp_path / "hf" / "tokenizer.json")
    enc2, _ = load_bert_encoder(tmp_path / "hf")
    assert enc2.cfg.d_model == 32
    with pytest.raises(LmlabError, match="neither an lmlab BERT run"):
        load_bert_encoder(shakespeare_small.parent)


def test_hf_resnet_imports_as_a_cnn_run_with_its_labels(tmp_path, capsys, cli_fails):
    from transformers import ResNetConfig, ResNetForImageClassification
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic",
                       id2label={0: "cat", 1: "dog", 2: "owl"}, label2id={"cat": 0, "dog": 1, "owl": 2})
    ResNetForImageClassification(cfg).save_pretrained(tmp_path / "hf")
    assert main(["hf", "import", str(tmp_path / "hf"), "--out", str(tmp_path / "run")]) == 0
    assert "lmlab classify" in capsys.readouterr().out
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (meta["family"], meta["labels"], meta["model"]["channels"]) == ("cnn", ["cat", "dog", "owl"], [8, 16])
    cli_fails(["classify", str(tmp_path / "run"), str(tmp_path / "x.png")], "no preprocessing settings", "--init")
