"""MultiHeadAttention's stacked q/k/v product in training: the same outputs and gradients as three products.

Tolerance: fp32, 1e-6 absolute on outputs and gradients of O(1) (one (3C, C) GEMM sums in another order
than three (C, C) ones: float rounding only).
"""

import pytest
import torch

from lmlab.nn.attention import MultiHeadAttention
from lmlab.nn.linear import Linear
from lmlab.peft.apply import apply_lora
from lmlab.peft.lora import LoRAConfig

TOL = 1e-6


def _pair(**kw) -> tuple[MultiHeadAttention, MultiHeadAttention]:
    torch.manual_seed(0)
    a = MultiHeadAttention(32, 4, causal=True, **kw)
    b = MultiHeadAttention(32, 4, causal=True, **kw)
    b.load_state_dict(a.state_dict())
    return a, b


def _grads(m: MultiHeadAttention, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x = x.clone().requires_grad_()
    y = m(x)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    return y.detach(), {"x": x.grad, **{n: p.grad for n, p in m.named_parameters()}}


@pytest.mark.parametrize("kw", [dict(), dict(bias=False), dict(n_kv_heads=2),
                                dict(backend="naive"), dict(backend="flash"), dict(backend="sdpa")])
def test_stacked_product_equals_three_products(kw, monkeypatch):
    stacked, apart = _pair(**kw)
    x = torch.randn(2, 7, 32, generator=torch.Generator().manual_seed(1))
    assert stacked._stacked_qkv(x) is not None
    y1, g1 = _grads(stacked, x)
    monkeypatch.setattr(apart, "_stacked_qkv", lambda x: None)     # the three-product path
    y2, g2 = _grads(apart, x)
    assert (y1 - y2).abs().max() <= TOL
    assert g1.keys() == g2.keys()
    for name in g1:
        assert (g1[name] - g2[name]).abs().max() <= TOL, name


def test_stacked_product_only_where_it_is_the_same_and_pays():
    m, _ = _pair()
    x = torch.randn(1, 3, 32)
    assert m._stacked_qkv(x) is not None
    with torch.no_grad():                     # inference and decoding: no weight copies per token
        assert m._stacked_qkv(x) is None
    assert m.eval()._stacked_qkv(x) is None
    m.train()
    handle = m.k_proj.register_forward_hook(lambda *a: None)    # a hook must see its module called
    assert m._stacked_qkv(x) is None
    handle.remove()

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = m
    apply_lora(Model(), LoRAConfig(r=2, targets=("q_proj", "v_proj")), quiet=True)
    assert type(m.q_proj) is not Linear and m._stacked_qkv(x) is None     # LoRA: the adapters' own forward
