"""LoRA (lmlab.peft.lora): the layer's formula and initialisation, merge/unmerge exactness, injection by
name patterns, frozen weights that really stay put in training, the trainable-parameter counts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lmlab.errors import LmlabError
from lmlab.models.bert import BertConfig
from lmlab.models.bert.model import BertForSequenceClassification
from lmlab.models.gpt import GPT, GPTConfig, preset
from lmlab.models.gpt.presets import count_parameters
from lmlab.peft import (
    LoRAConfig,
    LoRAEmbedding,
    LoRALinear,
    inject_lora,
    lora_layers,
    merge_lora,
    parse_lora_spec,
    trainable_report,
)
from lmlab.peft.lora import set_merged


def tiny_gpt(**kw) -> GPT:
    return GPT(GPTConfig(vocab_size=64, max_seq_len=16, d_model=32, n_heads=4, n_layers=2, **kw))


def test_layer_starts_as_the_base_and_computes_the_bypass():
    base = nn.Linear(20, 12)
    layer = LoRALinear(base, r=4, alpha=8)
    x = torch.randn(3, 5, 20)
    assert torch.equal(layer(x), base(x))                       # B = 0: the base model exactly
    bound = 1 / math.sqrt(20)                                    # kaiming_uniform_(a=√5) on (r, in) = U(±1/√in)
    assert layer.lora_A.shape == (4, 20) and layer.lora_A.abs().max() <= bound and layer.lora_A.std() > bound / 3
    assert not base.weight.requires_grad and layer.lora_A.requires_grad
    with torch.no_grad():
        layer.lora_B.normal_()
    expected = base(x) + (x @ layer.lora_A.T @ layer.lora_B.T) * 2.0       # s = α / r = 8 / 4
    torch.testing.assert_close(layer(x), expected)
    assert LoRALinear(nn.Linear(20, 12), r=4, alpha=8, rslora=True).scaling == 4.0   # α / √r


def test_merge_is_exact_in_exact_arithmetic():
    layer = LoRALinear(nn.Linear(256, 192).double(), r=8, alpha=16)
    with torch.no_grad():
        layer.lora_B.normal_(0, 0.02)
    x = torch.randn(4, 256, dtype=torch.float64)
    y = layer(x)
    layer.merge()
    torch.testing.assert_close(layer(x), y, atol=1e-12, rtol=0)


def test_merge_then_unmerge():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(256, 192), r=8, alpha=16)
    with torch.no_grad():
        layer.lora_B.normal_(0, 0.02)
    w0 = layer.base.weight.detach().clone()
    x = torch.randn(4, 256)
    y = layer(x)                                                # |y| up to ~2
    layer.merge()
    assert layer.merged and not torch.equal(layer.base.weight, w0)
    # merged forward = unmerged forward, to fp32 rounding of a 256-term sum
    torch.testing.assert_close(layer(x), y, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(layer.base.weight, w0 + layer.delta_weight(), atol=0, rtol=0)
    merged = layer.base.weight.detach().clone()
    layer.unmerge()
    back = layer.base.weight.detach()
    # the guarantee: within one rounding of each step, 2^-23 · max(|W|, |W + ΔW|) per element
    assert ((back - w0).abs() <= 2.0**-23 * torch.maximum(w0.abs(), merged.abs())).all()
    assert (back - w0).abs().max() <= 1e-7
    assert (back == w0).float().mean() > 0.5                     # most elements come back bit for bit
    torch.testing.assert_close(layer(x), y, atol=1e-6, rtol=1e-6)
    layer.merge()
    layer.merge()                                                # idempotent: merged once only
    torch.testing.assert_close(layer(x), y, atol=1e-6, rtol=1e-6)


def test_embedding_layer_starts_as_the_base_then_merges_and_unmerges():
    torch.manual_seed(0)
    base = nn.Embedding(30, 12, padding_idx=0)
    layer = LoRAEmbedding(base, r=4, alpha=8)
    ids = torch.tensor([[0, 3, 7, 3], [29, 0, 1, 2]])
    assert torch.equal(layer(ids), base(ids))                   # A = 0: the base model exactly
    assert layer.lora_A.shape == (4, 30) and layer.lora_B.shape == (12, 4) and layer.lora_B.std() > 0.5  # B ~ N(0, 1)
    assert not base.weight.requires_grad and layer.lora_A.requires_grad
    layer(ids).pow(2).sum().backward()
    assert layer.lora_A.grad[:, 0].abs().max() == 0 and layer.lora_A.grad[:, 3].abs().max() > 0  # padding: no grad
    with torch.no_grad():
        layer.lora_A.normal_(0, 0.1)
    w = base.weight + 2.0 * (layer.lora_B @ layer.lora_A).T                   # s = α / r = 8 / 4; (V, C)
    expected = nn.functional.embedding(ids, w)
    torch.testing.assert_close(layer(ids), expected)
    w0 = base.weight.detach().clone()
    layer.merge()
    torch.testing.assert_close(layer(ids), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(base.weight, w0 + layer.delta_weight(), atol=0, rtol=0)
    merged = base.weight.detach().clone()
    layer.unmerge()                                             # within one rounding of each step, as LoRALinear
    assert ((base.weight - w0).abs() <= 2.0**-23 * torch.maximum(w0.abs(), merged.abs())).all()
    torch.testing.assert_close(layer(ids), expected)


def test_embeddings_are_adapted_only_when_named():
    clf = lambda: BertForSequenceClassification(BertConfig(vocab_size=50, max_seq_len=16, d_model=32, n_heads=4,
                                                           n_layers=1), 3)
    assert not any("emb" in n for n in inject_lora(clf(), LoRAConfig(targets=("all-linear",))))
    model = clf()
    names = inject_lora(model, LoRAConfig(r=2, targets=("all-linear", "tok_emb")))
    assert "bert.emb.tok_emb" in names and isinstance(model.bert.emb.tok_emb, LoRAEmbedding)
    assert not any(p.requires_grad for n, p in model.named_parameters() if "tok_emb.base" in n or "pos_emb" in n)
    assert trainable_report(model).lora == sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    ids = torch.randint(1, 50, (2, 9))
    with torch.no_grad():
        model.bert.emb.tok_emb.lora_A.normal_()
        for layer in lora_layers(model).values():
            layer.lora_B.normal_(0, 0.1)
    model.eval()
    y = model(ids)
    torch.testing.assert_close(merge_lora(model)(ids), y, atol=1e-5, rtol=0)
    assert type(model.bert.emb.tok_emb) is nn.Embedding


def test_a_base_without_weight_runs_but_does_not_merge():
    class Quantised(nn.Module):  # stands for a frozen 4-bit layer: in/out features and a forward, no .weight
        in_features, out_features = 8, 6

        def __init__(self):
            super().__init__()
            self.register_buffer("packed", torch.randn(6, 8))

        def forward(self, x):
            return x @ self.packed.T

    layer = LoRALinear(Quantised(), r=2, alpha=4)
    assert layer(torch.randn(3, 8)).shape == (3, 6)
    with pytest.raises(LmlabError, match="cannot merge"):
        layer.merge()


def test_presets_and_patterns_pick_the_right_layers():
    names = lambda targets: sorted(inject_lora(tiny_gpt(), LoRAConfig(targets=targets)))
    assert names(("qkv",)) == sorted(f"blocks.{i}.attn.{p}_proj" for i in range(2) for p in "qkv")
    assert names(("qv",)) == sorted(f"blocks.{i}.attn.{p}_proj" for i in range(2) for p in "qv")
    assert len(names(("qkvo",))) == 8 and len(names(("ff",))) == 4
    all_linear = names(("all-linear",))
    assert len(all_linear) == 12 and "lm_head" not in all_linear
    assert names(("blocks.1.attn.*",)) == [f"blocks.1.attn.{p}" for p in ("k_proj", "out_proj", "q_proj", "v_proj")]
    assert names((r"re:blocks\.0\.ff\.(up|down)",)) == ["blocks.0.ff.down", "blocks.0.ff.up"]
    assert names(("out_proj", "ff.up")) == sorted(f"blocks.{i}.{p}" for i in range(2) for p in ("attn.out_proj", "ff.up"))
    swiglu = inject_lora(tiny_gpt(activation="swiglu", bias=False), LoRAConfig(targets=("ff",)))
    assert len(swiglu) == 6                                      # up, gate, down


def test_injection_errors():
    with pytest.raises(LmlabError, match="matches no linear or embedding layer"):
        inject_lora(tiny_gpt(), LoRAConfig(targets=("query",)))
    with pytest.raises(LmlabError, match="tied embeddings"):
        inject_lora(tiny_gpt(), LoRAConfig(targets=("lm_head",)))
    with pytest.raises(LmlabError, match="tied embeddings"):                  # the same matrix, from the input side
        inject_lora(tiny_gpt(), LoRAConfig(targets=("tok_emb",)))
    model = tiny_gpt()
    inject_lora(model, LoRAConfig())
    with pytest.raises(LmlabError, match="already has LoRA"):
        inject_lora(model, LoRAConfig())
    with pytest.raises(LmlabError, match="modules_to_save entry 'head'"):
        inject_lora(tiny_gpt(), LoRAConfig(modules_to_save=("head",)))


@pytest.mark.parametrize("kw", [dict(r=0), dict(alpha=0.0), dict(dropout=1.0), dict(targets=()),
                                dict(targets=("re:(",))])
def test_config_validation(kw):
    with pytest.raises(ValueError):
        LoRAConfig(**kw)


def test_spec_parsing():
    cfg = parse_lora_spec("r=4, alpha=8, targets=q_proj,v_proj, dropout=0.1, rslora=true, modules_to_save=classifier")
    assert cfg == LoRAConfig(r=4, alpha=8.0, dropout=0.1, targets=("q_proj", "v_proj"), rslora=True,
                             modules_to_save=("classifier",))
    assert parse_lora_spec("") == LoRAConfig()
    for spec, needle in [("r=eight", "expects int"), ("rank=8", "unknown key 'rank'"), ("8", "not key=value"),
                         ("r=8,r=4", "given twice"), ("r=-1", "positive")]:
        with pytest.raises(LmlabError, match=needle):
            parse_lora_spec(spec)


def test_training_moves_only_the_adapters_and_the_saved_head():
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=50, max_seq_len=16, d_model=32, n_heads=4,
                                                     n_layers=2, dropout=0.1), n_classes=3)
    inject_lora(model, LoRAConfig(r=4, targets=("qkv", "ff"), dropout=0.1, modules_to_save=("classifier",)))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert all("lora_" in n or n.startswith("classifier.") for n in trainable)
    assert len(trainable) == 2 * 2 * 5 + 2                        # A, B × (q, k, v, up, down) × 2 layers + head
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    ids, labels = torch.randint(0, 50, (8, 10)), torch.randint(0, 3, (8,))
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
        for n, p in model.named_parameters():
            assert (p.grad is not None) == p.requires_grad, n      # frozen weights get no gradient at all
        opt.step()
        opt.zero_grad()
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n                    # bit for bit
        else:
            assert not torch.equal(p, trainable[n]), n


def test_trainable_report_counts_gpt2_small_exactly():
    with torch.device("meta"):  # shapes only: no memory, no time
        model = GPT(preset("gpt2-small"))
        inject_lora(model, LoRAConfig(r=8, targets=("qkv",)))
    rep = trainable_report(model)
    lora = 12 * 3 * (8 * 768 + 768 * 8)                           # layers × (q, k, v) × (A + B)
    assert rep.lora == rep.trainable == lora == 442_368
    assert rep.total == count_parameters(preset("gpt2-small")) + lora == 124_439_808 + lora
    assert rep.fraction == pytest.approx(0.003542, abs=1e-6)
    assert "442,368" in str(rep)


def test_merge_lora_gives_a_plain_model_with_the_same_outputs():
    torch.manual_seed(0)
    model = tiny_gpt()
    inject_lora(model, LoRAConfig(r=4, targets=("all-linear",)))
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.normal_(0, 0.05)
    ids = torch.randint(0, 64, (2, 16))
    y = model(ids)
    set_merged(model, True)
    torch.testing.assert_close(model(ids), y, atol=1e-5, rtol=0)
    set_merged(model, False)
    plain = merge_lora(model)
    assert not lora_layers(plain) and all(p.requires_grad for p in plain.parameters())
    assert set(plain.state_dict()) == set(tiny_gpt().state_dict())
    torch.testing.assert_close(plain(ids), y, atol=1e-5, rtol=0)
