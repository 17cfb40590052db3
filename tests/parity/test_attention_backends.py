"""Every lmlab attention backend vs PyTorch's reference `F.scaled_dot_product_attention`.

The reference gets an explicit bool mask written here from the definitions, one (query, key) pair at a
time, independently of lmlab.ops.masks; grouped-query attention is compared against plain
`repeat_interleave` of the key/value heads. The cases have no fully masked rows (whose reference
output depends on the torch version). Tolerance: fp32 outputs and q/k/v gradients to TOL = 1e-5
(max abs difference), unit-scale random inputs.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmlab.ops.attention import BACKENDS, attention
from lmlab.ops.masks import dense_mask

TOL = 1e-5
B, H, D = 2, 4, 16


def reference_mask(t_q, t_k, causal=False, window=None, key_padding_mask=None, global_mask=None, mask=None,
                   q_offset=None):
    """(B, H, T_q, T_k) bool from the definitions in the API, pair by pair."""
    off = t_k - t_q if q_offset is None else q_offset
    out = torch.zeros(B, H, t_q, t_k, dtype=torch.bool)
    for b in range(B):
        for r in range(t_q):
            i = r + off                                             # absolute query position
            for j in range(t_k):
                ok = (not causal or j <= i) and (window is None or (0 <= i - j < window if causal
                                                                    else abs(i - j) < window))
                if global_mask is not None and (global_mask[b, i] or global_mask[b, j]):
                    ok = True                                       # global tokens override causal/window
                if key_padding_mask is not None and not key_padding_mask[b, j]:
                    ok = False
                out[b, :, r, j] = ok
    if mask is not None:
        out &= mask
    return out


def _kpm(t, left=0, right=0):
    m = torch.ones(B, t, dtype=torch.bool)
    m[0, :left] = False
    m[1, t - right:] = False
    return m


def _global(t, *pos):
    g = torch.zeros(B, t, dtype=torch.bool)
    for b, i in pos:
        g[b, i] = True
    return g


_dense = torch.rand(B, 1, 21, 21, generator=torch.Generator().manual_seed(5)) < 0.8
_dense[..., 0] = True  # every query sees key 0: no fully masked row

CASES = {
    "none": (21, 21, H, {}),
    "causal": (21, 21, H, dict(causal=True)),
    "causal_right_padding": (21, 21, H, dict(causal=True, key_padding_mask=_kpm(21, right=6))),
    "left_padding": (21, 21, H, dict(key_padding_mask=_kpm(21, left=5))),
    "dense": (21, 21, H, dict(mask=_dense)),
    "window_causal": (33, 33, H, dict(causal=True, window=4)),
    "window": (33, 33, H, dict(window=3)),
    "longformer": (33, 33, H, dict(window=3, global_mask=_global(33, (0, 0), (1, 12), (1, 30)),
                                   key_padding_mask=_kpm(33, right=2))),
    "gqa": (33, 33, H // 2, dict(causal=True, window=9)),
    "mqa": (21, 21, 1, dict(causal=True)),
    "decode": (1, 25, H // 2, dict(causal=True, key_padding_mask=_kpm(25, left=3))),
    "kv_cache_chunk": (4, 25, H, dict(causal=True, window=6)),
    "cross": (9, 21, H, dict(key_padding_mask=_kpm(21, left=4))),
}


def _grads(out, tensors, seed=1):
    out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)))
    grads = [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    return grads


@pytest.mark.parametrize("case", list(CASES))
def test_backends_match_torch_sdpa_with_explicit_mask(case):
    t_q, t_k, h_kv, kw = CASES[case]
    g = torch.Generator().manual_seed(0)
    q = torch.randn(B, H, t_q, D, generator=g).requires_grad_()
    k = torch.randn(B, h_kv, t_k, D, generator=g).requires_grad_()
    v = torch.randn(B, h_kv, t_k, D, generator=g).requires_grad_()
    ref_mask = reference_mask(t_q, t_k, **kw)
    assert ref_mask.any(-1).all(), "the parity cases avoid fully masked rows"
    assert torch.equal(dense_mask(t_q, t_k, **kw).expand(B, H, t_q, t_k), ref_mask)

    G = H // h_kv
    want = F.scaled_dot_product_attention(q, k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1),
                                          attn_mask=ref_mask)
    want_grads = _grads(want, (q, k, v))
    for backend in BACKENDS:
        got = attention(q, k, v, backend=backend, **kw)
        got_grads = _grads(got, (q, k, v))
        for name, a, b in zip(("out", "dq", "dk", "dv"), [got, *got_grads], [want, *want_grads]):
            err = (a - b).abs().max().item()
            assert err <= TOL, f"{case} {backend} {name}: max abs diff {err:.2e}"
