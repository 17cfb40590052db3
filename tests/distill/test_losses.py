"""The triple loss against torch's own functions, and why the soft loss is scaled by T²."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmlab.distill import DistillConfig, distillation_loss, hidden_cosine_loss, soft_label_loss
from lmlab.errors import LmlabError


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0])
def test_soft_label_loss_is_torch_kl_batchmean_times_T_squared(T):
    s, t = torch.randn(2, 5, 11), torch.randn(2, 5, 11) * 3  # (B, T, V): every position is a row
    ref = F.kl_div(F.log_softmax(s.flatten(0, 1) / T, -1), F.softmax(t.flatten(0, 1) / T, -1),
                   reduction="batchmean") * T**2
    torch.testing.assert_close(soft_label_loss(s, t, T), ref, rtol=1e-5, atol=1e-6)


def test_soft_label_loss_sends_no_gradient_to_the_teacher():
    s, t = torch.randn(6, 9, requires_grad=True), torch.randn(6, 9, requires_grad=True)
    soft_label_loss(s, t, 2.0).backward()
    assert s.grad is not None and t.grad is None


def test_hidden_cosine_loss_is_torch_cosine_embedding_loss_on_the_real_tokens():
    hs, ht = torch.randn(3, 7, 16), torch.randn(3, 7, 16)
    mask = torch.rand(3, 7) > 0.3
    ref = F.cosine_embedding_loss(hs[mask], ht[mask], torch.ones(int(mask.sum())))
    torch.testing.assert_close(hidden_cosine_loss(hs, ht, mask), ref)
    everything = F.cosine_embedding_loss(hs.flatten(0, 1), ht.flatten(0, 1), torch.ones(21))
    torch.testing.assert_close(hidden_cosine_loss(hs, ht), everything)
    assert hidden_cosine_loss(ht * 2.5, ht) < 1e-6        # a direction, not a length


def test_triple_loss_is_the_weighted_sum_of_its_parts():
    s, t = torch.randn(10, 13, requires_grad=True), torch.randn(10, 13)
    labels = torch.randint(0, 13, (10,))
    labels[3] = -100                                       # ignored by the hard loss only
    hs, ht = torch.randn(2, 5, 8, requires_grad=True), torch.randn(2, 5, 8)
    cfg = DistillConfig(temperature=3.0, alpha_kl=0.5, alpha_ce=0.3, alpha_cos=0.2)
    out = distillation_loss(s, t, labels, hs, ht, cfg)
    kl = F.kl_div(F.log_softmax(s / 3, -1), F.softmax(t / 3, -1), reduction="batchmean") * 9
    ce = F.cross_entropy(s, labels, ignore_index=-100)
    cos = F.cosine_embedding_loss(hs.flatten(0, 1), ht.flatten(0, 1), torch.ones(10))
    for name, ref in (("kl", kl), ("ce", ce), ("cos", cos)):
        torch.testing.assert_close(out[name], ref.detach(), rtol=1e-5, atol=1e-6)
        assert not out[name].requires_grad
    torch.testing.assert_close(out["loss"], 0.5 * kl + 0.3 * ce + 0.2 * cos, rtol=1e-5, atol=1e-6)
    out["loss"].backward()
    assert s.grad is not None and hs.grad is not None


def test_T_squared_keeps_the_gradient_scale_independent_of_T():
    """Hinton et al. 2015, §2: the soft loss's gradient shrinks as 1/T²; times T² it stays put."""
    torch.manual_seed(0)
    s, t = torch.randn(64, 50), torch.randn(64, 50)
    s, t = s - s.mean(-1, keepdim=True), t - t.mean(-1, keepdim=True)

    def grad_norm(T: float, scaled: bool) -> float:
        z = s.clone().requires_grad_(True)
        loss = soft_label_loss(z, t, T) / (1.0 if scaled else T**2)
        (g,) = torch.autograd.grad(loss, z)
        return g.norm().item()

    scaled = [grad_norm(T, True) for T in (4.0, 8.0, 16.0, 32.0)]
    plain = [grad_norm(T, False) for T in (4.0, 8.0, 16.0, 32.0)]
    assert max(scaled) / min(scaled) < 1.3                 # the same scale at every temperature
    assert plain[0] / plain[-1] > 0.8 * 8**2               # without T²: 64× smaller from T=4 to T=32
    # the limit the argument uses: gradient -> (z_s - z_t) / (N V) as T grows
    expected = ((s - t) / (64 * 50)).norm().item()
    assert abs(scaled[-1] / expected - 1) < 0.02


def test_mismatched_shapes_are_refused_clearly():
    with pytest.raises(LmlabError, match="same width"):
        hidden_cosine_loss(torch.randn(2, 3, 8), torch.randn(2, 3, 16))
    with pytest.raises(LmlabError, match="same tokenizer"):
        soft_label_loss(torch.randn(4, 10), torch.randn(4, 12), 2.0)


@pytest.mark.parametrize("kw, message", [
    (dict(temperature=0.0), "temperature"),
    (dict(alpha_kl=-1.0), "≥ 0"),
    (dict(alpha_kl=0.0, alpha_ce=0.0, alpha_cos=0.0), "not all 0"),
    (dict(layers="0,two"), "layers"),
    (dict(init="zeros"), "init"),
])
def test_bad_configs_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        DistillConfig(**kw)
