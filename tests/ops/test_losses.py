"""Properties of lmlab.ops.losses that follow from the definitions (parity with torch: tests/parity)."""

from __future__ import annotations

import pytest
import torch

from lmlab.ops import losses as L


def test_cross_entropy_gradient_is_softmax_minus_target_distribution():
    """d loss / d z = (softmax(z) − q) / N for both smoothing definitions: why smoothing caps confidence."""
    z = torch.randn(5, 7, requires_grad=True)
    y = torch.randint(0, 7, (5,))
    for kind in ("uniform", "others"):
        (g,) = torch.autograd.grad(L.cross_entropy(z, y, 0.1, kind), z)
        q = L.smoothed_targets(y, 7, 0.1, kind)
        assert torch.allclose(g, (z.softmax(-1) - q) / 5, atol=1e-7)


def test_smoothed_targets_sum_to_one_and_definitions_agree_without_smoothing():
    y = torch.randint(0, 10, (4,))
    for kind in ("uniform", "others"):
        assert torch.allclose(L.smoothed_targets(y, 10, 0.2, kind).sum(-1), torch.ones(4))
    z = torch.randn(4, 10)
    assert torch.equal(L.cross_entropy(z, y, 0.0, "uniform"), L.cross_entropy(z, y, 0.0, "others"))


def test_cross_entropy_ignores_positions_and_returns_fp32():
    z = torch.randn(6, 5)
    y = torch.tensor([1, -100, 2, 3, -100, 0])
    keep = y != -100
    assert torch.allclose(L.cross_entropy(z, y), L.cross_entropy(z[keep], y[keep]))
    per_row = L.cross_entropy(z, y, reduction="none")
    assert per_row.shape == (6,) and per_row[1] == 0 and per_row[4] == 0
    assert L.cross_entropy(z.bfloat16(), y).dtype == torch.float32


def test_bad_arguments_raise():
    z, y = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="smoothing"):
        L.cross_entropy(z, y, 0.1, "bogus")
    with pytest.raises(ValueError, match="label_smoothing"):
        L.cross_entropy(z, y, 1.5)
    with pytest.raises(ValueError, match="reduction"):
        L.mse(z, z, reduction="avg")


def test_bce_matches_naive_formula_where_naive_is_safe():
    x = torch.randn(100)
    y = torch.rand(100)
    s = torch.sigmoid(x)
    naive = -(y * s.log() + (1 - y) * (1 - s).log())
    assert torch.allclose(L.binary_cross_entropy_with_logits(x, y, reduction="none"), naive, atol=1e-6)
    pw = torch.tensor(3.0)
    naive_pw = -(pw * y * s.log() + (1 - y) * (1 - s).log())
    assert torch.allclose(L.binary_cross_entropy_with_logits(x, y, pw, reduction="none"), naive_pw, atol=1e-5)


def test_smooth_l1_and_huber_are_continuous_at_the_threshold():
    for beta in (0.5, 1.0, 3.0):
        d = torch.tensor([beta - 1e-4, beta + 1e-4])
        v = L.smooth_l1(d, torch.zeros(2), beta, reduction="none")
        assert abs(v[0] - v[1]) < 1e-3
        h = L.huber(d, torch.zeros(2), beta, reduction="none")
        assert abs(h[0] - h[1]) < 1e-3 * beta


def test_regression_losses_on_an_outlier():
    """The notes' point: MSE is dominated by one large error, MAE and Smooth L1 much less."""
    pred, target = torch.zeros(5), torch.tensor([0.1, -0.1, 0.1, -0.1, 10.0])
    assert L.mse(pred, target) == pytest.approx((4 * 0.01 + 100) / 5)
    assert L.mae(pred, target) == pytest.approx((0.4 + 10) / 5)
    assert L.smooth_l1(pred, target) == pytest.approx((4 * 0.005 + 9.5) / 5)


def test_kl_temperature_softens_and_t2_rescales():
    s, t = torch.randn(8, 5), torch.randn(8, 5)
    assert L.kl_div_with_temperature(s, t, 1.0) >= 0
    # for large T, T²·KL → Σ (s − t centred)² / (2V) per row (Hinton et al. 2015, §2.1)
    big = L.kl_div_with_temperature(s, t, 100.0)
    ds = (s - s.mean(-1, keepdim=True)) - (t - t.mean(-1, keepdim=True))
    assert big == pytest.approx((ds.pow(2).sum(-1) / (2 * 5)).mean().item(), rel=2e-2)


def test_cosine_embedding_loss_cases():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    y = torch.tensor([1, -1, 1])
    out = L.cosine_embedding_loss(a, b, y, margin=0.5, reduction="none")
    assert torch.allclose(out, torch.tensor([0.0, 2**-0.5 - 0.5, 1.0]), atol=1e-6)  # zero vector: cos = 0
