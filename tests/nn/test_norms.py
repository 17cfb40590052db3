import torch

from lmlab.nn.norms import RMSNorm


def test_rmsnorm_equals_torch():
    """Outputs and gradients equal torch.nn.RMSNorm's within 1e-6 (fp32)."""
    torch.manual_seed(0)
    ours, ref = RMSNorm(48, eps=1e-6), torch.nn.RMSNorm(48, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_()
        ref.weight.copy_(ours.weight)
    x1 = torch.randn(4, 7, 48, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    y1, y2 = ours(x1), ref(x2)
    assert (y1 - y2).abs().max() <= 1e-6
    g = torch.randn_like(y1)
    y1.backward(g)
    y2.backward(g)
    assert (x1.grad - x2.grad).abs().max() <= 1e-6
    assert (ours.weight.grad - ref.weight.grad).abs().max() <= 1e-5
