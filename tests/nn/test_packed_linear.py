import pytest
import torch
from torch import nn

from lmlab.nn.packed_linear import packed_linears, packing_supported

pytestmark = pytest.mark.skipif(not packing_supported(torch.zeros(1)), reason="oneDNN linear not available")


def test_packed_linear_equals_f_linear_and_is_undone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 32, bias=False)).eval()
    x = torch.randn(3, 64)
    want = model(x)
    with torch.no_grad(), packed_linears(model) as n:
        assert n == 2
        got = model(x)
        one = model(x[:1])
    # a different summation order: equal up to fp32 rounding (max |diff| ≤ 1e-5 at these magnitudes)
    assert (got - want).abs().max() <= 1e-5 and (one - want[:1]).abs().max() <= 1e-5
    assert all("forward" not in m.__dict__ for m in model)          # the modules are as before
    assert torch.equal(model(x), want)


def test_packed_layers_fall_back_when_gradients_are_needed():
    model = nn.Linear(8, 4)
    x = torch.randn(2, 8)
    with packed_linears(model):
        y = model(x)                     # grad enabled: the ordinary forward, differentiable
        y.sum().backward()
    assert model.weight.grad is not None


def test_packing_sees_weight_updates_only_when_re_entered():
    """Packing copies the weights: change them and the next `with` packs the new values."""
    model = nn.Linear(8, 4).eval()
    x = torch.randn(1, 8)
    with torch.no_grad():
        model.weight.mul_(2)
        with packed_linears(model):
            y = model(x)
    assert torch.allclose(y, model(x), atol=1e-5)


@pytest.mark.parametrize("winner", ["plain", "packed"])
def test_packing_only_where_this_machine_measured_it_faster(tmp_path, monkeypatch, winner):
    import json

    from lmlab.ops import autotune
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LMLAB_AUTOTUNE", "1")
    autotune._decided.clear()
    (tmp_path / "kernels.json").write_text(json.dumps(
        {autotune.cache_key(): {"decode_weights_fp32": {"choice": winner, "ms": {}}}}))
    try:
        with torch.no_grad(), packed_linears(nn.Linear(8, 4)) as n:
            assert n == (winner == "packed")
    finally:
        autotune._decided.clear()
