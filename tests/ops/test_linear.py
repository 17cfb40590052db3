"""ops.linear: the oneDNN path equals F.linear (outputs and all three gradients) up to float rounding."""

import json

import pytest
import torch
import torch.nn.functional as F

from lmlab.ops import linear as linear_mod
from lmlab.ops.linear import linear, set_linear_kernel, uses_onednn

needs_onednn = pytest.mark.skipif(not linear_mod.onednn_available(), reason="PyTorch built without oneDNN")
TOL = dict(rtol=1e-5, atol=1e-5)  # two GEMM libraries summing fp32 products in different orders


@pytest.fixture
def onednn():
    """The oneDNN path forced on (auto may pick MKL on this CPU), as set_linear_kernel does for experiments."""
    previous = set_linear_kernel("onednn")
    yield
    set_linear_kernel(previous)


def _case(shape, n_out, bias, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, requires_grad=True)
    w = (torch.randn(n_out, shape[-1], generator=g) * 0.05).requires_grad_()
    b = torch.randn(n_out, generator=g).requires_grad_() if bias else None
    return x, w, b


@needs_onednn
@pytest.mark.parametrize("shape", [(7, 33), (2, 5, 64), (3, 2, 4, 48)])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_f_linear_forward_and_backward(shape, bias, onednn):
    x, w, b = _case(shape, 40, bias)
    assert uses_onednn(x, w)
    y = linear(x, w, b)
    grads = torch.autograd.grad(y.square().sum(), [t for t in (x, w, b) if t is not None])
    x2, w2, b2 = (t.detach().clone().requires_grad_() if t is not None else None for t in (x, w, b))
    y2 = F.linear(x2, w2, b2)
    grads2 = torch.autograd.grad(y2.square().sum(), [t for t in (x2, w2, b2) if t is not None])
    torch.testing.assert_close(y, y2, **TOL)
    for a, r in zip(grads, grads2, strict=True):
        torch.testing.assert_close(a, r, **TOL)


@needs_onednn
def test_non_contiguous_input_and_frozen_weight(onednn):
    x, w, b = _case((6, 32), 16, True)
    xt = x.detach().t().contiguous().t().requires_grad_()                  # (6, 32), column-major
    w.requires_grad_(False)
    y = linear(xt, w, b)
    (gx, gb) = torch.autograd.grad(y.sum(), [xt, b])
    torch.testing.assert_close(y, F.linear(xt, w, b), **TOL)
    torch.testing.assert_close(gx, torch.ones(6, 16) @ w, **TOL)
    torch.testing.assert_close(gb, torch.full((16,), 6.0), **TOL)


def test_other_dtypes_devices_and_autocast_use_f_linear():
    x, w, b = _case((4, 8), 3, True)
    assert not uses_onednn(x.double(), w.double())
    assert not uses_onednn(x.bfloat16(), w.bfloat16())
    assert not uses_onednn(x[0], w)                                         # 1-D input
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not uses_onednn(x, w)
        assert linear(x, w, b).dtype == torch.bfloat16                        # autocast still applies
    y = linear(x.double(), w.double(), b.double())
    torch.testing.assert_close(y, F.linear(x.double(), w.double(), b.double()), rtol=0, atol=0)


def test_kernel_switch():
    x, w, _ = _case((4, 8), 3, False)
    previous = set_linear_kernel("torch")
    try:
        assert not uses_onednn(x, w)
        assert torch.equal(linear(x, w), F.linear(x, w))
    finally:
        set_linear_kernel(previous)
    with pytest.raises(ValueError, match="linear kernel"):
        set_linear_kernel("mkl")


@pytest.fixture
def tuned(tmp_path, monkeypatch):
    """Autotuning on against an empty temporary cache; the switch at auto; decisions forgotten after."""
    from lmlab.ops import autotune
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LMLAB_AUTOTUNE", "1")
    autotune._decided.clear()
    previous = set_linear_kernel("auto")
    yield autotune
    set_linear_kernel(previous)
    autotune._decided.clear()


@needs_onednn
def test_auto_is_decided_by_measurement_even_first_under_inference_mode(tuned):
    x, w, b = _case((4, 8), 3, True)
    with torch.inference_mode():                                            # e.g. the first call is in generate
        y = linear(x, w, b)
    entry = tuned.decision(linear_mod.choice_name(4, 8, 3))                   # "linear_fp32/8x3@64"
    assert entry["choice"] == min(entry["ms"], key=entry["ms"].get) == linear_mod.kernel_for(4, 8, 3)
    torch.testing.assert_close(y, F.linear(x, w, b), **TOL)


@needs_onednn
@pytest.mark.parametrize("cached", ["torch", "onednn"])
def test_auto_follows_the_cache_and_a_forced_kernel_wins(tuned, cached):
    other = "torch" if cached == "onednn" else "onednn"
    data = {tuned.cache_key(): {"linear_fp32/8x3@64": {"choice": cached, "ms": {}},
                                "linear_fp32/8x3@128": {"choice": other, "ms": {}}}}
    tuned.cache_path().write_text(json.dumps(data))
    x, w, _ = _case((4, 8), 3, False)
    assert uses_onednn(x, w) == (cached == "onednn")                        # 4 rows: the 64-row bucket
    assert uses_onednn(torch.randn(2, 50, 8), w) == (other == "onednn")   # 100 rows: the 128-row one
    set_linear_kernel("torch")
    assert not uses_onednn(x, w) and linear_mod.resolved_kernel() == "torch"


@needs_onednn
def test_auto_without_measuring_follows_the_cpu(tuned, monkeypatch):
    from lmlab.ops.cpu import cpu_info
    monkeypatch.setenv("LMLAB_AUTOTUNE", "0")
    info = cpu_info()
    amd512 = info.avx512 and info.vendor == "AuthenticAMD"           # MKL keeps to AVX2 there
    assert linear_mod.resolved_kernel() == linear_mod.default_kernel() == ("onednn" if amd512 else "torch")
