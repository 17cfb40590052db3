"""ops/attention.py: the naive, flash, bmm and sdpa backends agree on every kind of mask; "auto" picks among them
by measurement, once per kind of call, and follows the capability default (sdpa) when autotuning is off.

Tolerance: fp32 outputs and q/k/v gradients agree to TOL = 1e-5 (max abs difference) with unit-scale
random inputs; the backends sum in different orders, so bit-equality is not expected. Fully masked
rows are compared exactly (0). bf16 flash and bmm vs fp32 naive: 2e-2 (bf16 keeps 8 bits of mantissa).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmlab.ops import autotune
from lmlab.ops.attention import BACKENDS, _auto_candidates, attention, auto_backend, choice_name, seq_bucket
from lmlab.ops.flash_attention import flash_attention, flash_tiles
from lmlab.ops.masks import AttentionMask

TOL = 1e-5
B, H, D = 2, 4, 16


def run(backend: str, q, k, v, **kw):
    """`attention(..., backend=...)`; "flash16" is flash with tiny tiles (16 keys, 8 query rows)."""
    if backend != "flash16":
        return attention(q, k, v, backend=backend, **kw)
    spec = AttentionMask.build(q.size(2), k.size(2), batch=q.size(0), n_heads=q.size(1), device=q.device, **kw)
    return flash_attention(q, k, v, spec, scale=q.size(-1) ** -0.5, block_size=16, q_block_size=8)


def qkv(t_q, t_k, h_kv=H, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, t_q, D, generator=g, dtype=dtype).requires_grad_()
    k = torch.randn(B, h_kv, t_k, D, generator=g, dtype=dtype).requires_grad_()
    v = torch.randn(B, h_kv, t_k, D, generator=g, dtype=dtype).requires_grad_()
    return q, k, v


def forward_backward(backend, q, k, v, seed=1, **kw):
    """Output and the gradients of q, k, v for a random upstream gradient."""
    for t in (q, k, v):
        t.grad = None
    out = run(backend, q, k, v, **kw)
    # drawn in fp32 then cast: randn in bf16 draws a different stream on some torch versions
    out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out.dtype))
    return [out.detach(), q.grad, k.grad, v.grad]


def left_padding(t, n_pad):
    kpm = torch.ones(B, t, dtype=torch.bool)
    kpm[0, :n_pad] = False  # sequence 0 is left-padded, sequence 1 is full
    return kpm


def global_tokens(t, *positions):
    g = torch.zeros(B, t, dtype=torch.bool)
    for b, i in positions:
        g[b, i] = True
    return g


def random_dense(shape, seed=2, p_true=0.7):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p_true


# name: (T_q, T_k, H_kv, attention kwargs)
CASES = {
    "none": (23, 23, H, {}),
    "causal": (37, 37, H, dict(causal=True)),
    "key_padding": (23, 23, H, dict(key_padding_mask=left_padding(23, 5))),
    "causal_left_padding": (37, 37, H, dict(causal=True, key_padding_mask=left_padding(37, 6))),
    "dense_mask": (23, 23, H, dict(mask=random_dense((B, 1, 23, 23)))),
    "dense_mask_per_head_causal": (37, 37, H, dict(mask=random_dense((H, 37, 37)), causal=True)),
    "window_causal": (37, 37, H, dict(causal=True, window=5)),
    "window_bidirectional": (37, 37, H, dict(window=4)),
    "global_window": (37, 37, H, dict(window=4, global_mask=global_tokens(37, (0, 0), (0, 20), (1, 33)),
                                      key_padding_mask=left_padding(37, 3))),
    "global_causal_window": (37, 37, H, dict(causal=True, window=6, global_mask=global_tokens(37, (0, 17), (1, 2)))),
    "gqa": (37, 37, H // 2, dict(causal=True, key_padding_mask=left_padding(37, 4))),
    "mqa": (37, 37, 1, dict(window=7, mask=random_dense((B, H, 37, 37), p_true=0.9))),
    "decode_step": (1, 30, H, dict(causal=True, key_padding_mask=left_padding(30, 4))),
    "decode_chunk": (5, 30, H // 2, dict(causal=True, window=8)),
    "cross_attention": (9, 23, H, dict(key_padding_mask=left_padding(23, 7))),
    "cross_attention_dense": (40, 17, 1, dict(mask=random_dense((B, 1, 40, 17)))),
    "q_offset": (12, 12, H, dict(causal=True, q_offset=3, window=5)),
}


@pytest.mark.parametrize("backend", ["flash", "flash16", "bmm", "sdpa"])
@pytest.mark.parametrize("case", list(CASES))
def test_backends_agree_with_naive(case, backend):
    t_q, t_k, h_kv, kw = CASES[case]
    q, k, v = qkv(t_q, t_k, h_kv)
    want = forward_backward("naive", q, k, v, **kw)
    got = forward_backward(backend, q, k, v, **kw)
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        err = (a - b).abs().max().item()
        assert err <= TOL, f"{case} {backend} {name}: max abs diff {err:.2e}"


@pytest.mark.parametrize("backend", [*BACKENDS, "flash16"])
def test_fully_masked_rows_give_zero_output_and_zero_gradient(backend):
    T = 20
    q, k, v = qkv(T, T)
    dense = torch.ones(B, 1, T, T, dtype=torch.bool)
    dense[0, 0, 7] = False                          # sequence 0, query 7 may see nothing
    kpm = torch.ones(B, T, dtype=torch.bool)
    kpm[1] = False                                  # sequence 1 is all padding: every row is empty
    kw = dict(causal=True, q_offset=-2, mask=dense, key_padding_mask=kpm)  # q_offset -2: queries 0, 1 precede all keys
    out, dq, dk, dv = forward_backward(backend, q, k, v, **kw)
    for t in (out, dq, dk, dv):
        assert torch.isfinite(t).all()
    assert (out[0, :, [0, 1, 7]] == 0).all() and (dq[0, :, [0, 1, 7]] == 0).all()
    assert (out[1] == 0).all() and (dq[1] == 0).all() and (dk[1] == 0).all() and (dv[1] == 0).all()
    assert (out[0, :, 2:7] != 0).all()              # the other rows are real attention outputs
    want = forward_backward("naive", q, k, v, **kw)
    assert max((a - b).abs().max().item() for a, b in zip((out, dq, dk, dv), want)) <= TOL


@pytest.mark.parametrize("backend", BACKENDS)
def test_gqa_equals_repeated_kv_heads(backend):
    q, k, v = qkv(19, 19, h_kv=2)
    got = attention(q, k, v, causal=True, backend=backend)
    want = attention(q, k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1), causal=True, backend="naive")
    assert (got - want).abs().max().item() <= TOL


@pytest.mark.parametrize("backend", ["flash16", "bmm"])
def test_bf16_backends_stay_near_fp32(backend):
    """flash accumulates in fp32 tiles; bmm's products and softmax accumulate in fp32 inside the kernels."""
    q, k, v = qkv(37, 37, dtype=torch.bfloat16)
    got = forward_backward(backend, q, k, v, causal=True, window=9)
    want = forward_backward("naive", *(t.detach().float().requires_grad_() for t in (q, k, v)), causal=True, window=9)
    for a, b in zip(got, want):
        assert a.dtype == torch.bfloat16
        assert (a.float() - b).abs().max().item() <= 2e-2


def test_flash_saves_no_score_matrix():
    """Structural memory check: flash's autograd graph keeps O(T·D) tensors, naive keeps T×T ones."""
    T = 2048
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, T, 16, generator=g).requires_grad_() for _ in range(3))
    largest = {}
    for backend in ("naive", "flash"):
        sizes = []

        def pack(t, sizes=sizes):
            sizes.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = attention(q, k, v, causal=True, backend=backend)
        out.sum().backward()
        largest[backend] = max(sizes)
    assert largest["naive"] >= T * T
    assert largest["flash"] <= T * 16            # q, k, v, out; the logsumexp is only T
    # and no tile is bigger than block_size keys x q_block_size rows
    spec = AttentionMask.build(T, T, causal=True)
    assert max((r.stop - r.start) * (c.stop - c.start) for r, c in flash_tiles(spec)) <= 128 * 1024


def test_bmm_saves_the_probabilities_and_caches_its_causal_mask():
    """bmm keeps P (T_q × T_k per head) for backward, as its memory bill says; one additive mask per kind."""
    from lmlab.ops import bmm_attention as bmm
    q, k, v = qkv(24, 24)
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.shape) or t, lambda t: t):
        attention(q, k, v, causal=True, backend="bmm")
    assert (B * H, 24, 24) in sizes and len(sizes) == 4                  # q, k, v and P
    spec = AttentionMask.build(24, 24, causal=True)
    first = bmm._mask(spec, B, H, 1, torch.float32, q.device)
    assert first is bmm._mask(spec, B, H, 1, torch.float32, q.device)
    bias, empty = first
    assert empty is None and bias.shape == (1, 24, 24) and bias[0, 0, 1] == float("-inf") and bias[0, 1, 0] == 0


def _area(tiles):
    return sum((r.stop - r.start if isinstance(r, slice) else r.numel()) * (c.stop - c.start) for r, c in tiles)


@pytest.mark.parametrize("causal", [True, False])
def test_flash_window_visits_O_T_W_tiles(causal):
    """Count the (query, key) pairs that flash's tiles cover: ~T·(W + block) with a window, ~T²/2 without."""
    W, block = 64, 32
    per_row = {}
    for T in (1024, 2048, 4096):
        g = global_tokens(T, (0, 5), (1, T // 2))
        spec = AttentionMask.build(T, T, causal=causal, window=W, global_mask=g)
        area = _area(flash_tiles(spec, block_size=block, q_block_size=256))
        band = T * (block + 2 * W)              # the windowed band, one key block wide on each row
        globals_ = 2 * T + 2 * T * block        # 2 global query rows, 2 key blocks holding global keys
        assert area <= band + globals_
        per_row[T] = area / T
    assert max(per_row.values()) / min(per_row.values()) <= 1.1  # pairs per query row do not grow with T
    full = {T: _area(flash_tiles(AttentionMask.build(T, T, causal=True), block_size=block)) / T for T in (2048, 4096)}
    assert full[4096] / full[2048] > 1.9                          # without a window they do: O(T²)


@pytest.mark.parametrize("kw", [
    dict(causal=True), dict(window=3), dict(causal=True, window=4, q_offset=2),
    dict(window=2, global_mask=global_tokens(29, (0, 1), (1, 16), (1, 28))),
    dict(causal=True, window=5, global_mask=global_tokens(29, (0, 9))),
])
def test_flash_tiles_cover_every_visible_pair_exactly_once(kw):
    spec = AttentionMask.build(29, 29, batch=B, **kw)
    seen = torch.zeros(29, 29, dtype=torch.long)
    for rows, cols in flash_tiles(spec, block_size=8, q_block_size=5):
        seen[rows, cols] += 1
    visible = spec.dense().expand(B, 1, 29, 29).any(0)[0]  # allowed in some sequence of the batch
    assert seen.max() <= 1 and (seen[visible] == 1).all()


def test_sdpa_fast_paths(monkeypatch):
    calls = []
    real = F.scaled_dot_product_attention

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    q, k, v = qkv(12, 12)
    attention(q, k, v, causal=True)                                   # training-style causal
    assert calls[-1].get("is_causal") and calls[-1].get("attn_mask") is None
    attention(q[:, :, -1:], k, v, causal=True)                        # one decoding query: nothing to mask
    assert not calls[-1].get("is_causal") and calls[-1].get("attn_mask") is None
    attention(q[:, :, -3:], k, v, causal=True)                        # decoding chunk: bottom-right causal mask
    assert calls[-1]["attn_mask"].shape[-2:] == (3, 12)
    attention(q, k, v, causal=True, window=4)
    assert calls[-1]["attn_mask"] is not None


def test_dropout():
    q, k, v = qkv(16, 16)
    for backend in ("flash", "bmm"):
        with pytest.raises(ValueError, match="dropout"):
            attention(q, k, v, dropout_p=0.1, training=True, backend=backend)
    eval_out = attention(q, k, v, dropout_p=0.1, training=False, backend="flash")  # no dropout outside training
    assert (eval_out - attention(q, k, v, backend="naive")).abs().max().item() <= TOL
    for backend in ("naive", "sdpa"):
        torch.manual_seed(3)
        a = attention(q, k, v, dropout_p=0.5, training=True, backend=backend)
        torch.manual_seed(3)
        b = attention(q, k, v, dropout_p=0.5, training=True, backend=backend)
        assert torch.equal(a, b) and (a - eval_out).abs().max() > 0.1


def test_errors():
    q, k, v = qkv(8, 8)
    with pytest.raises(ValueError, match="naive, flash, bmm, sdpa"):
        attention(q, k, v, backend="xformers")
    with pytest.raises(ValueError, match="divisible"):
        attention(q, k[:, :3], v[:, :3])
    with pytest.raises(ValueError, match="self-attention"):
        attention(q[:, :, :4], k, v, window=2, global_mask=torch.zeros(B, 8, dtype=torch.bool))


def test_scale():
    q, k, v = qkv(8, 8)
    for backend in BACKENDS:
        got = attention(q, k, v, scale=0.5, causal=True, backend=backend)
        want = attention(q * 0.5 * D ** 0.5, k, v, causal=True, backend="naive")
        assert (got - want).abs().max().item() <= TOL


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_inputs_as_multi_head_attention_makes_them(backend):
    """q, k, v as views (B, T, H, D) -> (B, H, T, D) (k, v: their first 2 heads, GQA), non-contiguous dout."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, B, 21, H, D, generator=g)
    q, k, v = (x[i].transpose(1, 2).requires_grad_() for i in range(3))
    grad = torch.randn(B, 21, H, D, generator=g).transpose(1, 2)
    out = attention(q, k[:, :2], v[:, :2], causal=True, window=6, backend=backend)
    out.backward(grad)
    got = [out.detach(), q.grad, k.grad, v.grad]
    q2, k2, v2 = (t.detach().contiguous().requires_grad_() for t in (q, k, v))
    want_out = attention(q2, k2[:, :2], v2[:, :2], causal=True, window=6, backend="naive")
    want_out.backward(grad.contiguous())
    for a, b in zip(got, [want_out.detach(), q2.grad, k2.grad, v2.grad]):
        assert (a - b).abs().max().item() <= TOL


# ---- "auto" ---------------------------------------------------------------------------------------------
@pytest.fixture
def tuning(tmp_path, monkeypatch):
    """Autotuning on, against an empty cache in a temporary folder; this process's decisions forgotten."""
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LMLAB_AUTOTUNE", "1")
    autotune._decided.clear()
    yield
    autotune._decided.clear()


def test_seq_bucket():
    assert [seq_bucket(t) for t in (1, 2, 16, 17, 256, 257, 10**5)] == [1, 16, 16, 32, 256, 512, 8192]


def test_auto_measures_once_per_kind_of_call_and_equals_the_backend_it_chose(tuning):
    q, k, v = qkv(40, 40)
    spec = AttentionMask.build(40, 40, causal=True)
    name = choice_name(q, k, spec, "train")
    assert name == "attention/float32/train/causal/D16/q64k64"
    out, *grads = forward_backward("auto", q, k, v, causal=True)
    entry = autotune.decision(name)
    assert set(entry["ms"]) == {"sdpa", "flash", "bmm"}    # naive never trains; bmm while its T×T probabilities are small
    chosen = entry["choice"]
    assert chosen == min(entry["ms"], key=entry["ms"].get) == autotune.known(name)
    want = forward_backward(chosen, q, k, v, causal=True)
    assert all(torch.equal(a, b) for a, b in zip((out, *grads), want))   # auto is that backend, bit for bit
    q2, k2, v2 = qkv(33, 60, seed=3)                       # the same buckets (64, 64): no new measurement
    forward_backward("auto", q2, k2, v2, causal=True)
    assert list(autotune.decided("attention/")) == [name]
    with torch.no_grad():                                  # inference and decoding are other kinds of call
        attention(q, k, v, causal=True, backend="auto")
        attention(q[:, :, -1:], k, v, causal=True, backend="auto")
    decode = "attention/float32/decode/none/D16/q1k64"     # one query after its cache: nothing to mask
    assert set(autotune.decided("attention/")) == {name, "attention/float32/infer/causal/D16/q64k64", decode}
    assert set(autotune.decision(decode)["ms"]) == {"sdpa", "flash", "bmm", "naive"}


def test_auto_without_autotuning_or_unmeasured_masks_is_sdpa(tuning, monkeypatch):
    q, k, v = qkv(24, 24)
    padding = torch.ones(B, 24, dtype=torch.bool)
    padding[0, :3] = False
    spec = AttentionMask.build(24, 24, causal=True, key_padding_mask=padding)
    assert choice_name(q, k, spec, "train") is None
    assert auto_backend(q, k, v, spec, 0.0) == "sdpa" and not autotune.decided("attention/")
    monkeypatch.setenv("LMLAB_AUTOTUNE", "0")
    spec = AttentionMask.build(24, 24, causal=True, window=5)
    assert auto_backend(q, k, v, spec, 0.0) == "sdpa"
    assert not autotune.cache_path().exists()


def test_auto_with_dropout_times_only_dropout_backends_and_keeps_the_random_stream(tuning):
    q, k, v = qkv(16, 16)
    spec = AttentionMask.build(16, 16, causal=True)
    state = torch.get_rng_state()
    candidates = _auto_candidates(q, k, spec, "train+dropout", 0.1)
    assert set(candidates) == {"sdpa"}                     # flash has no attention dropout
    for fn in candidates.values():
        fn()
    assert torch.equal(torch.get_rng_state(), state)       # measuring draws nothing from the run's stream
