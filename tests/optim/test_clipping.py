"""lmlab.optim.clipping.clip_grad_norm_ vs torch.nn.utils.clip_grad_norm_: returned norm and clipped grads."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.optim.clipping import clip_grad_norm_

TOL = 1e-6


def make_params(scale=1.0, with_none=True, dtypes=(torch.float32,)):
    """A few parameters of different shapes (one without a gradient), and an identical copy."""
    shapes = [(5, 3), (7,), (2, 4, 3), (1,)]
    ours, ref = [], []
    for i, shape in enumerate(shapes):
        dtype = dtypes[i % len(dtypes)]
        p = torch.nn.Parameter(torch.randn(shape, dtype=dtype))
        q = torch.nn.Parameter(p.detach().clone())
        if not (with_none and i == 3):
            p.grad = scale * torch.randn(shape, dtype=dtype)
            q.grad = p.grad.clone()
        ours.append(p)
        ref.append(q)
    return ours, ref


def compare(ours, ref, max_norm, norm_type=2.0):
    n1 = clip_grad_norm_(ours, max_norm, norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type)
    assert n1.shape == n2.shape == () and abs(n1.item() - n2.item()) <= TOL * max(1.0, n2.item())
    if isinstance(ours, torch.Tensor):                    # a single tensor, not a list
        ours, ref = [ours], [ref]
    for p, q in zip(ours, ref):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert (p.grad - q.grad).abs().max() <= TOL
    return n1


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])          # clipped, and left alone
def test_equals_torch(norm_type, max_norm):
    ours, ref = make_params(scale=2.0)
    before = [p.grad.clone() if p.grad is not None else None for p in ours]
    total = compare(ours, ref, max_norm, norm_type)
    grads = [p.grad for p in ours if p.grad is not None]
    flat_before = torch.cat([g.flatten() for g in before if g is not None])
    assert total.item() == pytest.approx(torch.linalg.vector_norm(flat_before, norm_type).item(), rel=1e-6)
    after = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]), norm_type)
    if max_norm < total:
        assert after.item() == pytest.approx(max_norm, rel=1e-5)   # capped at max_norm
    else:
        assert all(torch.equal(a, b) for a, b in zip(grads, [g for g in before if g is not None]))


def test_single_tensor_mixed_dtypes_and_no_grads():
    p, q = torch.nn.Parameter(torch.randn(10)), torch.nn.Parameter(torch.randn(10))
    p.grad = 5 * torch.randn(10)
    q.grad = p.grad.clone()
    compare(p, q, 1.0)
    ours, ref = make_params(scale=3.0, dtypes=(torch.float32, torch.float64))
    compare(ours, ref, 1.0)
    assert clip_grad_norm_([torch.nn.Parameter(torch.ones(3))], 1.0).item() == 0.0


def test_nonfinite():
    ours, ref = make_params()
    ours[0].grad[0, 0] = float("inf")
    ref[0].grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    n1, n2 = clip_grad_norm_(ours, 1.0), torch.nn.utils.clip_grad_norm_(ref, 1.0)
    assert n1.isinf() and n2.isinf()
    for p, q in zip(ours, ref):
        if p.grad is not None:
            assert torch.equal(p.grad.isnan(), q.grad.isnan())
