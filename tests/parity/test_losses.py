"""lmlab.ops.losses vs torch.nn.functional: values and input gradients, fp32.

Tolerance: TOL = 1e-6 on the max abs difference, scaled by the size of the reference where that is
above 1 (a "sum" of a few dozen losses is ~10, where one fp32 ulp is already ~1e-6). The "others"
label smoothing has no torch counterpart; it is checked against numbers worked out by hand and
against "uniform" with ε' = ε·V/(V − 1).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lmlab.ops import losses as L

TOL = 1e-6
REDUCTIONS = ["mean", "sum", "none"]


def assert_close(a, b):
    scale = max(1.0, b.detach().abs().max().item())
    assert (a - b).abs().max().item() <= TOL * scale, (a, b)


def check(ours, ref, *inputs):
    """Compare values, then the gradients of Σ g·loss w.r.t. every input, for one fixed g."""
    inputs = [x.detach().clone().requires_grad_() for x in inputs]
    y1 = ours(*inputs)
    g1 = torch.autograd.grad(y1, inputs, torch.linspace(0.5, 1.5, y1.numel()).reshape(y1.shape))
    inputs2 = [x.detach().clone().requires_grad_() for x in inputs]
    y2 = ref(*inputs2)
    g2 = torch.autograd.grad(y2, inputs2, torch.linspace(0.5, 1.5, y2.numel()).reshape(y2.shape))
    assert y1.shape == y2.shape and y1.dtype == y2.dtype
    assert_close(y1, y2)
    for a, b in zip(g1, g2):
        assert_close(a, b)


# --- cross-entropy --------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_uniform_equals_torch(reduction, eps, ignore):
    logits = 2 * torch.randn(24, 11)
    target = torch.randint(0, 11, (24,))
    if ignore:
        target[::3] = -100
    check(lambda z: L.cross_entropy(z, target, eps, "uniform", reduction=reduction),
          lambda z: F.cross_entropy(z, target, label_smoothing=eps, reduction=reduction), logits)


def test_cross_entropy_gradient_for_any_upstream_sign_and_bf16_logits():
    """The fused −log p_y (its gradient written out): upstream gradients of both signs and zero, and bf16
    logits (computed in fp32, the gradient cast back) against F.cross_entropy on the same fp32 values."""
    logits = 3 * torch.randn(40, 17)
    target = torch.randint(0, 17, (40,))
    target[5] = -100
    g = torch.linspace(-1.0, 1.0, 40)                    # negative, zero and positive rows
    z1, z2 = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    ours = L.cross_entropy(z1, target, reduction="none")
    ref = F.cross_entropy(z2, target, reduction="none")
    assert_close(ours, ref)
    assert_close(torch.autograd.grad(ours, z1, g)[0], torch.autograd.grad(ref, z2, g)[0])
    zb = logits.bfloat16().requires_grad_()
    lb = L.cross_entropy(zb, target)
    (gb,) = torch.autograd.grad(lb, zb)
    zf = zb.detach().float().requires_grad_()
    lf = F.cross_entropy(zf, target)
    assert lb.dtype == torch.float32 and gb.dtype == torch.bfloat16
    assert_close(lb, lf)
    assert (gb.float() - torch.autograd.grad(lf, zf)[0]).abs().max().item() <= 2e-3   # bf16 rounding of ~0.05


def test_cross_entropy_keeps_the_logits_not_log_probabilities():
    """What autograd saves: the fp32 logits (N, V) once and (N,)-sized tensors, no second (N, V) tensor."""
    logits = torch.randn(8, 50).requires_grad_()
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        L.cross_entropy(logits, torch.randint(0, 50, (8,)))
    big = [t for t in saved if t.numel() >= 8 * 50]
    assert len(big) == 1 and big[0].data_ptr() == logits.data_ptr()


def test_cross_entropy_custom_ignore_index_and_leading_dims():
    logits = torch.randn(3, 5, 7)                       # (B, T, V), class dim last
    target = torch.randint(0, 7, (3, 5))
    target[0, :2] = 0
    ours = L.cross_entropy(logits, target, 0.1, ignore_index=0)
    ref = F.cross_entropy(logits.reshape(-1, 7), target.reshape(-1), label_smoothing=0.1, ignore_index=0)
    assert_close(ours, ref)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    logits, target = torch.randn(4, 6), torch.full((4,), -100)
    assert L.cross_entropy(logits, target).isnan() and F.cross_entropy(logits, target).isnan()


def test_cross_entropy_others_hand_computed():
    """V = 4, ε = 0.1, p = softmax(z) = [1/2, 1/4, 1/8, 1/8], true class 0.

    "others":  q = [0.9, 0.1/3, 0.1/3, 0.1/3]
               loss = −Σ q log p = (0.9·1 + (0.1/3)·(2 + 3 + 3))·ln 2 = (0.9 + 0.8/3)·ln 2 ≈ 0.808672
    "uniform": q = [0.925, 0.025, 0.025, 0.025]
               loss = (0.925·1 + 0.025·8)·ln 2 = 1.125·ln 2 ≈ 0.779791
    """
    z = torch.log(torch.tensor([[0.5, 0.25, 0.125, 0.125]]))
    y = torch.tensor([0])
    others = L.cross_entropy(z, y, 0.1, "others")
    uniform = L.cross_entropy(z, y, 0.1, "uniform")
    assert abs(others.item() - (0.9 + 0.8 / 3) * math.log(2)) <= TOL
    assert abs(others.item() - 0.808672) <= 1e-6
    assert abs(uniform.item() - 1.125 * math.log(2)) <= TOL
    assert abs(uniform.item() - 0.779791) <= 1e-6
    assert torch.allclose(L.smoothed_targets(y, 4, 0.1, "others"),
                          torch.tensor([[0.9, 0.1 / 3, 0.1 / 3, 0.1 / 3]]))
    assert torch.allclose(L.smoothed_targets(y, 4, 0.1, "uniform"), torch.tensor([[0.925, 0.025, 0.025, 0.025]]))


def test_notes_example_v5():
    """The notes' example: V = 5, ε = 0.1 → [0.025, 0.025, 0.9, 0.025, 0.025] ("others")."""
    q = L.smoothed_targets(torch.tensor([2]), 5, 0.1, "others")
    assert torch.allclose(q, torch.tensor([[0.025, 0.025, 0.9, 0.025, 0.025]]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_others_is_uniform_with_rescaled_eps(reduction):
    """'others' with ε equals 'uniform' (and torch) with ε' = ε·V/(V − 1); values and gradients."""
    v, eps = 9, 0.2
    logits = torch.randn(16, v)
    target = torch.randint(0, v, (16,))
    target[5] = -100
    check(lambda z: L.cross_entropy(z, target, eps, "others", reduction=reduction),
          lambda z: F.cross_entropy(z, target, label_smoothing=eps * v / (v - 1), reduction=reduction), logits)


def test_cross_entropy_soft_target_definition():
    """Both definitions equal −Σ q log softmax(z) with q from smoothed_targets."""
    logits, target = torch.randn(10, 6), torch.randint(0, 6, (10,))
    for kind in ("uniform", "others"):
        q = L.smoothed_targets(target, 6, 0.15, kind)
        assert_close(L.cross_entropy(logits, target, 0.15, kind), -(q * logits.log_softmax(-1)).sum(-1).mean())


# --- binary cross-entropy -------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_pos_weight", [False, True])
def test_bce_with_logits_equals_torch(reduction, with_pos_weight):
    logits = 3 * torch.randn(8, 5)
    logits[0] = torch.tensor([100.0, -100.0, 0.0, 30.0, -30.0])   # extremes, and exactly 0
    target = torch.rand(8, 5).round()
    target[1] = torch.rand(5)                                      # soft targets too
    pos_weight = torch.tensor([0.5, 1.0, 2.0, 3.0, 10.0]) if with_pos_weight else None
    check(lambda z, y: L.binary_cross_entropy_with_logits(z, y, pos_weight, reduction),
          lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=pos_weight, reduction=reduction),
          logits, target)


def test_bce_extreme_logits_are_finite():
    z = torch.tensor([100.0, -100.0, 1e4, -1e4])
    loss = L.binary_cross_entropy_with_logits(z, torch.tensor([1.0, 0.0, 0.0, 1.0]), reduction="none")
    assert torch.isfinite(loss).all()
    assert loss[:2].abs().max() < 1e-30 and loss[2:].tolist() == [1e4, 1e4]


# --- regression -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_mae_equal_torch(reduction):
    x, y = torch.randn(6, 7), torch.randn(6, 7)
    check(lambda a, b: L.mse(a, b, reduction), lambda a, b: F.mse_loss(a, b, reduction=reduction), x, y)
    check(lambda a, b: L.mae(a, b, reduction), lambda a, b: F.l1_loss(a, b, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_smooth_l1_equals_torch(reduction, beta):
    x, y = 2 * torch.randn(6, 7), torch.randn(6, 7)
    check(lambda a, b: L.smooth_l1(a, b, beta, reduction),
          lambda a, b: F.smooth_l1_loss(a, b, beta=beta, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_equals_torch(reduction, delta):
    x, y = 2 * torch.randn(6, 7), torch.randn(6, 7)
    check(lambda a, b: L.huber(a, b, delta, reduction),
          lambda a, b: F.huber_loss(a, b, delta=delta, reduction=reduction), x, y)


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_is_delta_times_smooth_l1(delta):
    x, y = 2 * torch.randn(50), torch.randn(50)
    assert_close(L.huber(x, y, delta, "none"), delta * L.smooth_l1(x, y, delta, "none"))


# --- distillation KL, cosine embedding ------------------------------------------------------------

@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_kl_div_with_temperature_equals_torch(temperature):
    t = temperature
    student, teacher = 3 * torch.randn(12, 10), 3 * torch.randn(12, 10)
    check(lambda s, q: L.kl_div_with_temperature(s, q, t),
          lambda s, q: F.kl_div(F.log_softmax(s / t, -1), F.softmax(q / t, -1), reduction="batchmean") * t**2,
          student, teacher)


def test_kl_div_zero_for_identical_logits_and_per_row_for_3d():
    z = torch.randn(2, 5, 8)
    assert L.kl_div_with_temperature(z, z, 2.0).abs() < 1e-6
    s = torch.randn(2, 5, 8)
    rows = L.kl_div_with_temperature(s, z, 2.0, reduction="none")
    assert rows.shape == (2, 5)
    assert_close(L.kl_div_with_temperature(s, z, 2.0), rows.mean())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding_loss_equals_torch(reduction, margin):
    x1, x2 = torch.randn(10, 6), torch.randn(10, 6)
    x2[0] = x1[0]                                   # cos = 1
    y = torch.tensor([1, -1, 1, -1, -1, 1, 1, -1, 1, -1])
    check(lambda a, b: L.cosine_embedding_loss(a, b, y, margin, reduction),
          lambda a, b: F.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction), x1, x2)


def test_cosine_embedding_loss_1d():
    x1, x2 = torch.randn(6), torch.randn(6)
    y = torch.tensor(-1)
    assert_close(L.cosine_embedding_loss(x1, x2, y, 0.1), F.cosine_embedding_loss(x1, x2, y, margin=0.1))
