import torch
import torch.nn.functional as F

from lmlab.nn.feed_forward import FeedForward


def test_swiglu_is_down_of_silu_gate_times_up():
    torch.manual_seed(0)
    ff = FeedForward(16, 40, activation="swiglu", bias=False)
    x = torch.randn(2, 3, 16)
    want = ff.down(F.silu(ff.gate(x)) * ff.up(x))
    assert torch.equal(ff(x), want)
    assert sum(p.numel() for p in ff.parameters()) == 3 * 16 * 40
