"""LoRA adapters between lmlab and Hugging Face `peft`, both ways, on the same base weights.

Small GPT-2 and BERT with random weights (nothing is downloaded): the base goes HF -> lmlab through
lmlab.io; an adapter trained (here: filled with random numbers) on one side is saved in peft's layout
and loaded on the other, and the two models must give the same logits (≤ 1e-5). For GPT-2 this
covers the fused c_attn: peft's one A / one B on [q | k | v] against lmlab's three projections.
"""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file  # noqa: E402

from lmlab.errors import LmlabError  # noqa: E402
from lmlab.io.hf_bert import load_hf_bert  # noqa: E402
from lmlab.io.hf_gpt2 import load_hf_gpt2  # noqa: E402
from lmlab.io.peft_adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, load_adapter, save_adapter  # noqa: E402
from lmlab.peft import LoRAConfig, inject_lora, lora_layers, merge_lora  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402

ATOL = 1e-5


def _randomize_lora(model, seed: int = 0) -> None:
    """Nonzero B (and A) so that the adapters change the output: a stand-in for training."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name or p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=101, n_positions=32,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    path = tmp_path_factory.mktemp("gpt2")
    transformers.GPT2LMHeadModel(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                  vocab_size=97, max_position_embeddings=32, num_labels=3,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    path = tmp_path_factory.mktemp("bert")
    transformers.BertForSequenceClassification(cfg).save_pretrained(path)
    return path


def _hf_gpt2(path):
    return transformers.GPT2LMHeadModel.from_pretrained(path).eval()


def _hf_bert(path):
    return transformers.BertForSequenceClassification.from_pretrained(path).eval()


IDS = torch.randint(0, 97, (2, 12), generator=torch.Generator().manual_seed(1))


@torch.no_grad()
def _gpt_logits(lmlab_model, peft_model):
    return lmlab_model.eval()(IDS), peft_model(input_ids=IDS).logits


@torch.no_grad()
def _bert_logits(lmlab_model, peft_model):
    mask = torch.ones_like(IDS)
    mask[1, 9:] = 0  # a padded row
    return lmlab_model.eval()(IDS, None, mask), peft_model(input_ids=IDS, attention_mask=mask).logits


@pytest.mark.parametrize("targets,rslora", [(("all-linear",), False), (("qv",), True)])
def test_lmlab_gpt2_adapter_loads_in_peft(gpt2_dir, tmp_path, targets, rslora):
    model = load_hf_gpt2(gpt2_dir)
    inject_lora(model, LoRAConfig(r=4, alpha=8, targets=targets, rslora=rslora))
    _randomize_lora(model)
    save_adapter(model, tmp_path / "adapter", base_model_name_or_path=str(gpt2_dir))
    cfg = json.loads((tmp_path / "adapter" / ADAPTER_CONFIG).read_text())
    keys = load_file(str(tmp_path / "adapter" / ADAPTER_WEIGHTS))
    assert "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight" in keys
    n_parts = 2 if targets == ("qv",) else 3  # independent q/k/v adapters -> one block-diagonal adapter
    assert keys["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"].shape == (4 * n_parts, 32)
    assert cfg["fan_in_fan_out"] and cfg["use_rslora"] == rslora
    peft_model = PeftModel.from_pretrained(_hf_gpt2(gpt2_dir), tmp_path / "adapter").eval()
    ours, theirs = _gpt_logits(model, peft_model)
    base = _hf_gpt2(gpt2_dir)(input_ids=IDS).logits
    assert (theirs - base).abs().max() > 1e-2                 # the adapter does something
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def test_peft_gpt2_adapter_loads_in_lmlab_and_goes_back_unchanged(gpt2_dir, tmp_path):
    hf = get_peft_model(_hf_gpt2(gpt2_dir), LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "c_fc"],
                                                       fan_in_fan_out=True))
    _randomize_lora(hf, seed=2)
    hf.save_pretrained(tmp_path / "peft")
    model = load_hf_gpt2(gpt2_dir)
    lcfg = load_adapter(model, tmp_path / "peft")
    assert lcfg.r == 4 and len(lcfg.targets) == 2 * 6       # q, k, v, out, up, down in each of 2 blocks
    attn = model.blocks[0].attn
    assert attn.q_proj.lora_A is attn.k_proj.lora_A is attn.v_proj.lora_A   # c_attn's single A, shared
    ours, theirs = _gpt_logits(model, hf.eval())
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)
    # and back: the same tensors under the same keys
    save_adapter(model, tmp_path / "again")
    a, b = (load_file(str(tmp_path / d / ADAPTER_WEIGHTS)) for d in ("peft", "again"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # merged into plain weights: still the same function
    torch.testing.assert_close(merge_lora(model)(IDS), theirs, atol=ATOL, rtol=0)


def test_lmlab_bert_classifier_adapter_loads_in_peft(bert_dir, tmp_path):
    model = load_hf_bert(bert_dir, head="sequence")
    inject_lora(model, LoRAConfig(r=4, alpha=16, targets=("qkvo", "ff"), modules_to_save=("classifier",)))
    _randomize_lora(model, seed=3)
    save_adapter(model, tmp_path / "adapter")
    cfg = json.loads((tmp_path / "adapter" / ADAPTER_CONFIG).read_text())
    assert cfg["task_type"] == "SEQ_CLS" and cfg["modules_to_save"] == ["classifier"]
    keys = load_file(str(tmp_path / "adapter" / ADAPTER_WEIGHTS))
    assert "base_model.model.bert.encoder.layer.1.attention.self.query.lora_B.weight" in keys
    assert "base_model.model.classifier.weight" in keys
    peft_model = PeftModel.from_pretrained(_hf_bert(bert_dir), tmp_path / "adapter").eval()
    ours, theirs = _bert_logits(model, peft_model)
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def test_peft_bert_adapter_loads_in_lmlab(bert_dir, tmp_path):
    hf = get_peft_model(_hf_bert(bert_dir), LoraConfig(r=2, lora_alpha=4, target_modules=["query", "value", "dense"],
                                                       modules_to_save=["classifier"], task_type="SEQ_CLS",
                                                       use_rslora=True, rank_pattern={"value": 6}))
    _randomize_lora(hf, seed=4)
    hf.save_pretrained(tmp_path / "peft")
    model = load_hf_bert(bert_dir, head="sequence")
    load_adapter(model, tmp_path / "peft")
    layers = lora_layers(model)
    assert layers["bert.blocks.0.attn.v_proj"].r == 6 and layers["bert.blocks.0.attn.q_proj"].r == 2
    assert "bert.pooler.dense" in layers                     # "dense" matched the pooler in peft too
    assert all(p.requires_grad for p in model.classifier.parameters())
    ours, theirs = _bert_logits(model, hf.eval())
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def test_embedding_adapters_both_ways(bert_dir, tmp_path):
    """LoRA on the word embeddings: peft's lora_embedding_A (r, V) / lora_embedding_B (C, r) <-> LoRAEmbedding."""
    hf = get_peft_model(_hf_bert(bert_dir), LoraConfig(r=4, lora_alpha=8, target_modules=["word_embeddings", "query"],
                                                       modules_to_save=["classifier"], task_type="SEQ_CLS"))
    _randomize_lora(hf, seed=5)
    hf.save_pretrained(tmp_path / "peft")
    model = load_hf_bert(bert_dir, head="sequence")
    lcfg = load_adapter(model, tmp_path / "peft")
    assert "bert.emb.tok_emb" in lcfg.targets and lora_layers(model)["bert.emb.tok_emb"].lora_A.shape == (4, 97)
    ours, theirs = _bert_logits(model, hf.eval())
    assert (theirs - _hf_bert(bert_dir)(input_ids=IDS).logits).abs().max() > 1e-2
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)
    save_adapter(model, tmp_path / "again")                                   # back: the same tensors and keys
    a, b = (load_file(str(tmp_path / d / ADAPTER_WEIGHTS)) for d in ("peft", "again"))
    assert a.keys() == b.keys() and "base_model.model.bert.embeddings.word_embeddings.lora_embedding_A" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
    # lmlab's own injection (tok_emb beside all-linear) loads in peft and computes the same
    model = load_hf_bert(bert_dir, head="sequence")
    inject_lora(model, LoRAConfig(r=2, alpha=4, targets=("all-linear", "tok_emb"), modules_to_save=("classifier",)))
    _randomize_lora(model, seed=6)
    save_adapter(model, tmp_path / "ours")
    peft_model = PeftModel.from_pretrained(_hf_bert(bert_dir), tmp_path / "ours").eval()
    ours, theirs = _bert_logits(model, peft_model)
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)
    torch.testing.assert_close(merge_lora(model).eval()(IDS), peft_model(input_ids=IDS).logits, atol=ATOL, rtol=0)


def test_adapter_errors(gpt2_dir, bert_dir, tmp_path):
    model = load_hf_gpt2(gpt2_dir)
    with pytest.raises(LmlabError, match="no LoRA adapters"):
        save_adapter(model, tmp_path / "none")
    hf = get_peft_model(_hf_bert(bert_dir), LoraConfig(r=2, target_modules=["query"]))
    hf.save_pretrained(tmp_path / "bert_adapter")
    with pytest.raises(LmlabError, match="does not have"):  # a BERT adapter on a GPT-2
        load_adapter(model, tmp_path / "bert_adapter")
    cfg = json.loads((tmp_path / "bert_adapter" / ADAPTER_CONFIG).read_text())
    (tmp_path / "bert_adapter" / ADAPTER_CONFIG).write_text(json.dumps({**cfg, "use_dora": True}))
    with pytest.raises(LmlabError, match="DoRA"):
        load_adapter(load_hf_bert(bert_dir, head="sequence"), tmp_path / "bert_adapter")
    with pytest.raises(LmlabError, match="no adapter_config.json"):
        load_adapter(model, tmp_path)


# ---- `lmlab lora import`: a peft adapter becomes a run every command takes --------------------------
def test_lora_import_cli_gpt2_then_export_and_merge(gpt2_dir, tmp_path, capsys):
    from lmlab.cli import main
    from lmlab.runs.run import Run

    hf = get_peft_model(_hf_gpt2(gpt2_dir), LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_fc"],
                                                       fan_in_fan_out=True))
    _randomize_lora(hf, seed=5)
    hf.save_pretrained(tmp_path / "peft")
    theirs = hf.eval()(input_ids=IDS).logits.detach()
    # no --base: the adapter's base_model_name_or_path (gpt2_dir) is a folder here
    assert main(["lora", "import", str(tmp_path / "peft"), "--out", str(tmp_path / "run")]) == 0
    assert "8 adapted layers (r=4, alpha=8)" in capsys.readouterr().out   # q, k, v, up in each of 2 blocks
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["family"] == "gpt" and meta["lora"]["r"] == 4 and (tmp_path / "run" / "adapter" / ADAPTER_WEIGHTS).is_file()
    model = Run.open(tmp_path / "run").model()                           # the way every command loads a run
    torch.testing.assert_close(model.eval()(IDS), theirs, atol=ATOL, rtol=0)
    # a LoRA run exports merged: Hugging Face's plain GPT-2 then computes what peft's adapted one did
    assert main(["hf", "export", str(tmp_path / "run"), "--out", str(tmp_path / "hf")]) == 0
    assert "LoRA adapters are merged" in capsys.readouterr().out
    exported = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    torch.testing.assert_close(exported(input_ids=IDS).logits, theirs, atol=ATOL, rtol=0)
    assert main(["lora", "merge", str(tmp_path / "run")]) == 0
    torch.testing.assert_close(Run.open(tmp_path / "run-merged").model().eval()(IDS), theirs, atol=ATOL, rtol=0)


def test_lora_import_onto_an_lmlab_bert_run(bert_dir, tmp_path, capsys):
    from lmlab.cli import main
    from lmlab.runs.run import Run

    assert main(["hf", "import", str(bert_dir), "--out", str(tmp_path / "base")]) == 0
    hf = get_peft_model(transformers.BertForMaskedLM.from_pretrained(bert_dir),
                        LoraConfig(r=2, lora_alpha=4, target_modules=["query", "value"]))
    _randomize_lora(hf, seed=6)
    hf.save_pretrained(tmp_path / "peft")
    assert main(["lora", "import", str(tmp_path / "peft"), "--base", str(tmp_path / "base"),
                 "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    mask = torch.ones_like(IDS)
    with torch.no_grad():  # the encoder's output: the folder holds no MLM head, so both sides draw their own
        theirs = hf.eval()(input_ids=IDS, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        ours = Run.open(tmp_path / "run").model().eval().bert(IDS, None, mask).hidden
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def test_lora_import_errors(gpt2_dir, bert_dir, tmp_path, cli_fails, capsys):
    hf = get_peft_model(_hf_bert(bert_dir), LoraConfig(r=2, target_modules=["query"]))
    hf.save_pretrained(tmp_path / "bert_adapter")
    capsys.readouterr()  # transformers' loading report
    cli_fails(["lora", "import", str(tmp_path / "bert_adapter"), "--base", str(gpt2_dir), "--out",
               str(tmp_path / "x")], "does not have")                        # a BERT adapter on a GPT-2
    cli_fails(["lora", "import", str(tmp_path), "--base", str(gpt2_dir), "--out", str(tmp_path / "x")],
              "no adapter_config.json")
    cli_fails(["lora", "import", str(tmp_path / "bert_adapter"), "--base", str(tmp_path / "nowhere"), "--out",
               str(tmp_path / "x")], "has no config.json")
    cfg = json.loads((tmp_path / "bert_adapter" / ADAPTER_CONFIG).read_text())
    (tmp_path / "bert_adapter" / ADAPTER_CONFIG).write_text(json.dumps({**cfg, "base_model_name_or_path": "bert-x"}))
    cli_fails(["lora", "import", str(tmp_path / "bert_adapter"), "--out", str(tmp_path / "x")],
              "--base", "'bert-x'")                                           # a hub name: nothing is downloaded
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    cli_fails(["lora", "import", str(tmp_path / "bert_adapter"), "--base", str(bert_dir), "--out",
               str(tmp_path / "taken")], "--overwrite")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "x").exists()


def test_lora_import_onto_an_nf4_run_gives_a_qlora_run(gpt2_dir, tmp_path, capsys):
    from lmlab.cli import main
    from lmlab.runs.run import Run

    assert main(["hf", "import", str(gpt2_dir), "--out", str(tmp_path / "base")]) == 0
    assert main(["quantize", "nf4", str(tmp_path / "base"), "--out", str(tmp_path / "nf4")]) == 0
    hf = get_peft_model(_hf_gpt2(gpt2_dir), LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"],
                                                       fan_in_fan_out=True))
    _randomize_lora(hf, seed=7)
    hf.save_pretrained(tmp_path / "peft")
    assert main(["lora", "import", str(tmp_path / "peft"), "--base", str(tmp_path / "nf4"),
                 "--out", str(tmp_path / "qlora")]) == 0
    capsys.readouterr()
    meta = json.loads((tmp_path / "qlora" / "config.json").read_text())
    assert "quantization" in meta and meta["lora"]["r"] == 4
    kept = Run.open(tmp_path / "qlora").model(plain=False)  # NF4 base with the adapters beside it (generate)
    assert any(type(m).__name__ == "NF4Linear" for m in kept.modules())
    plain = Run.open(tmp_path / "qlora").model()            # dequantised and merged (export, --init)
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(IDS), kept.eval()(IDS), atol=ATOL, rtol=0)
