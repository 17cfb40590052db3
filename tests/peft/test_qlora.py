"""NF4Linear and QLoRA (LoRALinear around a frozen NF4Linear): outputs, memory, gradients, training."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lmlab.nn.nf4_linear as Q
from lmlab.errors import LmlabError
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn.nf4_linear import NF4Config, NF4Linear, nf4_layers, nf4_memory, quantize_model
from lmlab.ops import nf4
from lmlab.peft.lora import LoRAConfig, LoRALinear, trainable_report
from lmlab.peft.qlora import prepare_qlora
from lmlab.train.objectives import causal_lm


def tiny_gpt(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**dict(vocab_size=40, max_seq_len=16, d_model=64, n_heads=4, n_layers=2), **kw}))


@pytest.mark.parametrize("double_quant", [False, True])
@pytest.mark.parametrize("shape", [(96, 80), (70, 33), (128, 256)])   # (in, out); with 70, chunks of 32 rows
def test_forward_equals_linear_with_the_dequantised_weight(shape, double_quant):
    lin = nn.Linear(*shape)
    layer = NF4Linear.from_linear(lin, 64, double_quant, chunk_weights=2000)   # several chunks
    assert (layer.in_features, layer.out_features) == shape and layer.chunk_rows() < shape[1]
    x = torch.randn(3, 7, shape[0])
    assert (layer(x) - F.linear(x, layer.dequantized_weight(), lin.bias)).abs().max() <= 1e-5
    assert torch.equal(layer.dequantized_weight(), nf4.dequantize_nf4(nf4.quantize_nf4(lin.weight, 64, double_quant)))


def test_input_gradient_equals_that_of_the_dequantised_linear():
    lin = nn.Linear(128, 96)
    layer = NF4Linear.from_linear(lin, chunk_weights=4096)
    x = torch.randn(5, 128, requires_grad=True)
    g = torch.randn(5, 96)
    (gx,) = torch.autograd.grad(layer(x), x, g)
    (ref,) = torch.autograd.grad(F.linear(x, layer.dequantized_weight(), lin.bias), x, g)
    assert (gx - ref).abs().max() <= 1e-5


def test_only_a_chunk_of_the_weight_is_ever_dequantised(monkeypatch):
    """Forward and backward rebuild at most chunk_weights weights at a time and save none for backward."""
    lin = nn.Linear(256, 512)
    layer = NF4Linear.from_linear(lin, chunk_weights=16 * 256)
    sizes = []
    real = Q.dequantize_nf4_range
    monkeypatch.setattr(Q, "dequantize_nf4_range", lambda *a, **k: sizes.append(a[2] - a[1]) or real(*a, **k))
    saved = []
    x = torch.randn(4, 256, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        y = layer(x)
    y.sum().backward()
    assert max(sizes) == 16 * 256 and len(sizes) == 2 * 512 // 16     # 32 chunks in forward, 32 in backward
    assert all(n < 512 * 256 for n in saved)                           # no full weight kept for backward


def test_memory_is_the_buffers_and_no_weight_copy_is_kept():
    lin = nn.Linear(1024, 512)
    for dq, bits in ((False, 4.5), (True, 4.127)):
        layer = NF4Linear.from_linear(lin, 64, dq)
        assert list(layer.parameters()) == []
        stored = sum(b.numel() * b.element_size() for n, b in layer.named_buffers() if n != "bias")
        assert stored == layer.quantized.nbytes
        assert 8 * stored / (1024 * 512) == pytest.approx(bits, abs=1e-3)
        assert stored < 0.15 * lin.weight.numel() * 4                  # < 15 % of the fp32 weight
        assert not any(b.numel() == lin.weight.numel() and b.is_floating_point() for b in layer.buffers())


def test_compute_dtype_bf16_and_model_to_bf16_keep_the_scales():
    lin = nn.Linear(64, 32)
    layer = NF4Linear.from_linear(lin, compute_dtype=torch.bfloat16)
    x = torch.randn(2, 64)
    y = layer(x)
    assert y.dtype == torch.float32
    ref = F.linear(x.bfloat16(), layer.dequantized_weight(torch.bfloat16), lin.bias.bfloat16()).float()
    assert (y - ref).abs().max() < 1e-2
    w = layer.dequantized_weight(torch.float32)
    layer.to(torch.bfloat16)                                           # the bias follows, the scales do not
    assert layer.bias.dtype == torch.bfloat16 and layer.weight_absmax_offset.dtype == torch.float32
    assert torch.equal(layer.dequantized_weight(torch.float32), w)


def test_quantize_model_replaces_every_linear_but_the_head_and_saves_memory():
    model = tiny_gpt(tie_embeddings=False)
    x = torch.randint(0, 40, (2, 16))
    before = model(x)
    names = quantize_model(model, NF4Config())
    assert len(names) == 2 * 6 and "lm_head" not in names and isinstance(model.lm_head, nn.Linear)
    assert set(nf4_layers(model)) == set(names)
    mem = nf4_memory(model)
    assert mem["weights"] == 2 * (4 * 64 * 64 + 2 * 64 * 256)
    assert mem["bits_per_weight"] == pytest.approx(4.127, abs=0.01)
    after = model(x)
    assert (after - before).abs().mean() < 0.1 * before.abs().mean()      # close, not equal: 4 bits
    with pytest.raises(LmlabError, match="already quantised"):
        quantize_model(model)


def test_a_tied_head_is_refused_and_patterns_select_layers():
    model = tiny_gpt()                                                 # tied embeddings
    with pytest.raises(LmlabError, match="tied"):
        quantize_model(model, NF4Config(targets=("lm_head",)))
    names = quantize_model(copy.deepcopy(model), NF4Config(targets=("qkv",)))
    assert len(names) == 6 and all(n.split(".")[-1] in ("q_proj", "k_proj", "v_proj") for n in names)
    with pytest.raises(LmlabError, match="matches no linear"):
        quantize_model(model, NF4Config(targets=("nonexistent",)))
    with pytest.raises(ValueError, match="blocksize"):
        NF4Config(blocksize=63)


def test_quantised_state_dict_round_trips():
    a, b = tiny_gpt(), tiny_gpt()
    quantize_model(a)
    with torch.no_grad():
        for p in b.parameters():
            p.add_(1.0)                                                # different weights
    quantize_model(b)
    b.load_state_dict(a.state_dict())
    x = torch.randint(0, 40, (2, 16))
    assert torch.equal(a(x), b(x))


def test_qlora_training_lowers_the_loss_and_never_touches_the_nf4_buffers():
    model = tiny_gpt()
    quantised, lora_names = prepare_qlora(model, LoRAConfig(r=4, alpha=8, targets=("all-linear",)))
    assert set(quantised) == set(lora_names)
    layer = model.get_submodule(lora_names[0])
    assert isinstance(layer, LoRALinear) and isinstance(layer.base, NF4Linear)
    frozen = {n: b.clone() for n, b in model.named_buffers() if ".base." in n}
    report = trainable_report(model)
    assert report.trainable == report.lora > 0
    torch.manual_seed(1)
    ids = torch.randint(0, 40, (4, 17))
    batch = {"input_ids": ids[:, :-1], "labels": ids[:, 1:]}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(8):
        loss = causal_lm(model, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads and all(n.endswith(("lora_A", "lora_B")) for n in grads)
    assert all(torch.equal(b, frozen[n]) for n, b in model.named_buffers() if n in frozen)  # bit for bit
    with pytest.raises(LmlabError, match="merge"):
        layer.merge()                                                  # no float weight to merge into
