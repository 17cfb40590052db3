"""lmlab.nn.norms vs torch.nn.LayerNorm / BatchNorm1d / RMSNorm, fp32.

Outputs, input gradients and weight/bias gradients to TOL = 1e-6 (max abs difference, scaled by
the size of the reference where that is above 1: a weight gradient summed over a few dozen rows is
~10, where one fp32 ulp is ~1e-6); BatchNorm running statistics after several training steps and
the eval-mode output after them, to the same tolerance.
"""

from __future__ import annotations

import pytest
import torch

from lmlab.nn.norms import BatchNorm, LayerNorm, RMSNorm

TOL = 1e-6


def assert_close(a, b):
    scale = max(1.0, b.detach().abs().max().item())
    assert (a - b).abs().max().item() <= TOL * scale, ((a - b).abs().max().item(), scale)


def randomise_affine(ours, ref):
    with torch.no_grad():
        for name, p in ours.named_parameters():
            p.copy_(1 + 0.5 * torch.randn_like(p) if name == "weight" else 0.5 * torch.randn_like(p))
            ref.get_parameter(name).copy_(p)


def forward_backward(module, x, g):
    x = x.detach().clone().requires_grad_()
    y = module(x)
    y.backward(g)
    return y, x.grad, {n: p.grad for n, p in module.named_parameters()}


def assert_same(ours, ref, x):
    g = torch.randn(x.shape)
    y1, gx1, gp1 = forward_backward(ours, x, g)
    y2, gx2, gp2 = forward_backward(ref, x, g)
    assert_close(y1, y2)
    assert_close(gx1, gx2)
    assert gp1.keys() == gp2.keys()
    for name in gp1:
        assert_close(gp1[name], gp2[name])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(6, 32), (2, 5, 48)])
def test_layernorm_equals_torch(bias, shape):
    ours, ref = LayerNorm(shape[-1], eps=1e-5, bias=bias), torch.nn.LayerNorm(shape[-1], eps=1e-5, bias=bias)
    randomise_affine(ours, ref)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    assert_same(ours, ref, 1.5 * torch.randn(shape) + 0.3)


def test_rmsnorm_equals_torch():
    ours, ref = RMSNorm(40, eps=1e-6), torch.nn.RMSNorm(40, eps=1e-6)
    randomise_affine(ours, ref)
    assert_same(ours, ref, torch.randn(3, 4, 40))


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("shape", [(16, 12), (8, 12, 5)])
def test_batchnorm_equals_batchnorm1d(momentum, shape):
    """Training steps (outputs, grads, running stats), then eval mode, then state_dict round trip."""
    ours, ref = BatchNorm(12, eps=1e-5, momentum=momentum), torch.nn.BatchNorm1d(12, eps=1e-5, momentum=momentum)
    randomise_affine(ours, ref)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    for step in range(5):
        ours.zero_grad()
        ref.zero_grad()
        assert_same(ours, ref, (1 + step) * torch.randn(shape) + step)
        assert_close(ours.running_mean, ref.running_mean)
        assert_close(ours.running_var, ref.running_var)
        assert ours.num_batches_tracked == ref.num_batches_tracked == step + 1
    ours.eval()
    ref.eval()
    x = 3 * torch.randn(shape) + 2
    assert_same(ours, ref, x)
    fresh = BatchNorm(12, momentum=momentum).eval()
    fresh.load_state_dict(ref.state_dict())
    assert_close(fresh(x), ref(x))


def test_batchnorm_channels_last_equals_batchnorm1d_on_transposed_input():
    """(N, T, C) with channels_last=True is BatchNorm1d on (N, C, T): one statistic per feature."""
    ours, ref = BatchNorm(10, channels_last=True), torch.nn.BatchNorm1d(10)
    randomise_affine(ours, ref)
    for _ in range(3):
        x = torch.randn(4, 7, 10) * 2 + 1
        g = torch.randn(4, 7, 10)
        y1, gx1, gp1 = forward_backward(ours, x, g)
        y2, gx2, gp2 = forward_backward(ref, x.transpose(1, 2), g.transpose(1, 2))
        assert_close(y1, y2.transpose(1, 2))
        assert_close(gx1, gx2.transpose(1, 2))
    assert_close(ours.running_var, ref.running_var)
    ours.eval()
    ref.eval()
    x = torch.randn(4, 7, 10)
    assert_close(ours(x), ref(x.transpose(1, 2)).transpose(1, 2))
