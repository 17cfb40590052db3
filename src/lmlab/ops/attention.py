"""Scaled dot-product attention, softmax(Q Kᵀ · scale + M) V (Vaswani et al. 2017, "Attention Is All You Need").

Four backends share one signature, `attention(q, k, v, *, ..., backend=...)`:
- `naive`: the textbook formula with an explicit (T_q, T_k) mask matrix, for reading and checking;
- `flash`: tiled online softmax in pure PyTorch (Dao et al. 2022), never builds the T_q × T_k
  matrix, own backward; O(T·W) for a sliding window W (see ops/flash_attention.py);
- `bmm`:   the textbook formula as two batched products with a hand-written backward that keeps the
  probabilities: the fastest on a CPU for short sequences (see ops/bmm_attention.py);
- `sdpa`:  torch.nn.functional.scaled_dot_product_attention, fused and fast;
- `auto`:  the fastest of them for this call's kind of work, measured once per machine (the default
  of every model; see `auto_backend` below).

Shapes: q (B, H, T_q, D); k, v (B, H_kv, T_k, D) with H % H_kv == 0 -> (B, H, T_q, D).
H_kv < H is grouped-query attention (GQA, Ainslie et al. 2023; MQA when H_kv = 1): key/value
head h serves the G = H / H_kv consecutive query heads h·G … h·G + G − 1, exactly as if k and v
were `repeat_interleave(G, dim=1)`-ed, but no backend makes that copy (sdpa on torch < 2.5 does).

Masking (all bool, True = may attend; the rules live in ops/masks.py): `causal`, `window`,
`key_padding_mask`, `global_mask` (Longformer), a dense `mask`, and `q_offset`, the absolute
position of the first query (default T_k − T_q: the queries are the last positions).

Fully masked rows: a query that may see no key at all (e.g. a padding query under a dense mask, or
causal attention with q_offset < 0) gets output exactly 0 and passes back zero gradient, in every
backend, never NaN. (Internally naive and sdpa let such a row attend everywhere, which keeps the
softmax finite, then zero its output; flash never gives it any weight.)

Dropout (`dropout_p`, only when `training=True`) drops attention weights; `flash` and `bmm` do not
implement it and raise ValueError.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lmlab.ops import autotune
from lmlab.ops.backends import BACKENDS
from lmlab.ops.bmm_attention import bmm_attention
from lmlab.ops.flash_attention import flash_attention
from lmlab.ops.masks import AttentionMask, causal_mask, dense_mask, split_heads

__all__ = ["BACKENDS", "attention", "auto_backend", "naive_attention", "sdpa_attention", "flash_attention", "bmm_attention",
           "AttentionMask", "causal_mask", "dense_mask"]


_SDPA_HAS_GQA = torch.__version__ >= (2, 5)  # `enable_gqa=` arrived in torch 2.5


def naive_attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionMask, *, scale: float,
                    dropout_p: float = 0.0) -> Tensor:
    """softmax(Q Kᵀ · scale + M) V written out step by step, with the full (T_q, T_k) matrices."""
    B, H, T_q, D = q.shape
    H_kv = k.size(1)
    G = H // H_kv                                   # query heads per key/value head
    q = q.unflatten(1, (H_kv, G))                   # (B, H_kv, G, T_q, D), a view
    k, v = k.unsqueeze(2), v.unsqueeze(2)           # (B, H_kv, 1, T_k, D): shared by the G heads
    scores = (q * scale) @ k.transpose(-2, -1)      # (B, H_kv, G, T_q, T_k)
    allowed = spec.dense()                          # (B|1, H|1, T_q|1, T_k) bool; None: all allowed
    if allowed is not None:
        allowed = split_heads(allowed, H_kv, G)     # (B|1, H_kv|1, G|1, T_q, T_k)
        empty = ~allowed.any(-1, keepdim=True)      # (…, T_q, 1): queries that may see no key
        # An all -inf row would give softmax 0/0 = NaN: let empty rows see everything, zero them below.
        scores = scores.masked_fill(~(allowed | empty), float("-inf"))
    weights = torch.softmax(scores, dim=-1)         # (B, H_kv, G, T_q, T_k), rows sum to 1
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = weights @ v                               # (B, H_kv, G, T_q, D)
    if allowed is not None:
        out = out.masked_fill(empty, 0.0)           # empty rows: output 0, and no gradient flows back
    return out.reshape(B, H, T_q, D)


def sdpa_attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionMask, *, scale: float,
                   dropout_p: float = 0.0) -> Tensor:
    """PyTorch's fused kernel; same maths as `naive_attention`."""
    kwargs = dict(dropout_p=dropout_p, scale=scale)
    if q.size(1) != k.size(1):                      # GQA / MQA
        if _SDPA_HAS_GQA:
            kwargs["enable_gqa"] = True
        else:
            G = q.size(1) // k.size(1)
            k, v = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)
    if spec.is_unconstrained:                       # e.g. one decoding query over its cache
        return F.scaled_dot_product_attention(q, k, v, **kwargs)
    if spec.is_plain_causal:                        # lets the kernel skip the upper triangle
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, **kwargs)
    allowed = spec.dense()                          # (B|1, H|1, T_q|1, T_k)
    empty = ~allowed.any(-1, keepdim=True)          # (B|1, H|1, T_q|1, 1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed | empty, **kwargs)
    return out.masked_fill(empty, 0.0)              # as in naive_attention


_BACKEND_FNS = {"naive": naive_attention, "flash": flash_attention, "bmm": bmm_attention, "sdpa": sdpa_attention}


def attention(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, key_padding_mask: Tensor | None = None,
              mask: Tensor | None = None, window: int | None = None, global_mask: Tensor | None = None,
              q_offset: int | None = None, dropout_p: float = 0.0, training: bool = False,
              backend: str = "sdpa", scale: float | None = None) -> Tensor:
    """Attention of q (B, H, T_q, D) over k, v (B, H_kv, T_k, D) -> (B, H, T_q, D); see the module docstring.

    causal: key position ≤ query position.  key_padding_mask (B, T_k): True = real token.
    mask: bool, broadcastable to (B, H, T_q, T_k), True = may attend.  window: |i − j| < W
    (0 ≤ i − j < W with causal).  global_mask (B, T_k): Longformer global tokens (self-attention
    only).  q_offset: absolute position of the first query (default T_k − T_q).
    scale: default 1/√D.  dropout_p: on the attention weights, only when training.
    """
    if backend not in _BACKEND_FNS and backend != "auto":
        raise ValueError(f"unknown attention backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if q.dim() != 4 or k.dim() != 4 or k.shape != v.shape:
        raise ValueError(f"expected q (B, H, T_q, D) and k, v (B, H_kv, T_k, D), got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    B, H, T_q, D = q.shape
    if k.size(0) != B or k.size(3) != D or H % k.size(1) != 0:
        raise ValueError(f"k, v {tuple(k.shape)} do not fit q {tuple(q.shape)}: need the same B and D and "
                         "n_heads divisible by n_kv_heads")
    spec = AttentionMask.build(T_q, k.size(2), causal=causal, key_padding_mask=key_padding_mask, mask=mask,
                               window=window, global_mask=global_mask, q_offset=q_offset, batch=B,
                               n_heads=H, device=q.device)
    scale = D ** -0.5 if scale is None else scale
    p = dropout_p if training else 0.0
    if backend == "auto":
        backend = auto_backend(q, k, v, spec, p)
    return _BACKEND_FNS[backend](q, k, v, spec, scale=scale, dropout_p=p)


# ---- "auto": the backend chosen by measurement --------------------------------------------------------
# Which kernel is fastest depends on the work: on a CPU, sdpa's fused kernel wins on long sequences, but on
# short ones its set-up can cost more than the textbook's two matrix products, and the tiled flash kernel
# wins with a narrow sliding window. So "auto" times the candidates once for each kind of call, named
#     attention/<dtype>/<train|infer|decode>/<none|causal|window W>/D<head dim>/q<T_q bucket>k<T_k bucket>
# (lmlab.ops.autotune: interleaved, cached per CPU model, torch version and threads; LMLAB_AUTOTUNE=0 gives
# sdpa, the capability default). sdpa is always a candidate, so the pick is never slower than it as measured.
# Not measured (sdpa): other devices (CUDA's sdpa has its own kernel choice), padding, dense or global
# masks, and inside a torch.compile trace (what was decided before, else sdpa).
AUTO = "attention"
AUTO_DEFAULT = "sdpa"
NAIVE_MAX_SCORES = 512 * 512      # naive and bmm are inference candidates while their (T_q, T_k) scores stay small
BMM_MAX_SCORES = 256 * 256        # and bmm a training candidate up to here (it saves the probabilities)
_names: dict[tuple, str | None] = {}   # call kind -> choice name (autotune's own dict holds the decision)


def seq_bucket(t: int) -> int:
    """A sequence length rounded up to a power of two in [16, 8192] (1 stays 1: a decoding query)."""
    return 1 if t == 1 else min(8192, max(16, 1 << (t - 1).bit_length()))


def _mask_kind(spec: AttentionMask) -> str | None:
    if spec.key_padding_mask is not None or spec.mask is not None or spec.global_mask is not None:
        return None
    if spec.window is not None:
        return f"window{spec.window}" + ("c" if spec.causal else "")
    return "causal" if spec.causal else "none"


def choice_name(q: Tensor, k: Tensor, spec: AttentionMask, mode: str) -> str | None:
    """autotune's name for this kind of call, or None where "auto" is not measured (see above)."""
    kind = (q.dtype, mode, _mask_kind(spec), q.size(-1), q.size(2), k.size(2))   # exact sizes: no arithmetic
    name = _names.get(kind, "")
    if name == "":
        mask = kind[2]
        name = _names[kind] = None if mask is None else \
            _name(str(q.dtype).removeprefix("torch."), mode, mask, kind[3], kind[4], kind[5])
    return name


def _name(dtype: str, mode: str, mask: str, head_dim: int, t_q: int, t_k: int) -> str:
    return f"{AUTO}/{dtype}/{mode}/{mask}/D{head_dim}/q{seq_bucket(t_q)}k{seq_bucket(t_k)}"


def training_backend(head_dim: int, seq_len: int, dtype: str = "fp32", *, window: int = 0) -> str:
    """What "auto" trains causal self-attention of this shape with on this machine: this process's decision,
    else the cache's, else sdpa (not measured yet; nothing is timed here). For estimates such as the memory bill."""
    torch_dtype = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}.get(dtype, dtype)
    name = _name(torch_dtype, "train", f"window{window}c" if window else "causal", head_dim, seq_len, seq_len)
    entry = autotune.decision(name) if autotune.enabled() else None
    return autotune.known(name) or (entry or {}).get("choice") or AUTO_DEFAULT


def auto_backend(q: Tensor, k: Tensor, v: Tensor, spec: AttentionMask, dropout_p: float) -> str:
    """The backend "auto" means for this call: decided once per kind of call, then a dict lookup."""
    if not q.is_cpu:
        return AUTO_DEFAULT
    train = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    mode = ("train+dropout" if dropout_p > 0 else "train") if train else ("decode" if q.size(2) == 1 else "infer")
    name = choice_name(q, k, spec, mode)
    if name is None:
        return AUTO_DEFAULT
    chosen = autotune.known(name)
    if chosen is not None:
        return chosen
    if torch.compiler.is_compiling():
        return AUTO_DEFAULT
    return autotune.choose(name, lambda: _auto_candidates(q, k, spec, mode, dropout_p), AUTO_DEFAULT, reps=3)


def _auto_candidates(q: Tensor, k: Tensor, spec: AttentionMask, mode: str, dropout_p: float) -> dict:
    """Each eligible backend on random inputs of this call's B, heads and D at the bucket's lengths."""
    B, H, T_q, D = q.shape
    t_q, t_k = seq_bucket(T_q), max(seq_bucket(k.size(2)), seq_bucket(T_q))
    timed = AttentionMask.build(t_q, t_k, causal=spec.causal, window=spec.window, device=q.device)
    g = torch.Generator(device=q.device).manual_seed(0)
    with torch.inference_mode(False):
        qs = torch.randn(B, H, t_q, D, generator=g, device=q.device).to(q.dtype)
        ks, vs = (torch.randn(B, k.size(1), t_k, D, generator=g, device=q.device).to(q.dtype) for _ in range(2))
    train = mode.startswith("train")
    # naive and bmm keep the (T_q, T_k) probabilities: candidates while they stay small (BMM_MAX_SCORES in
    # training, where bmm saves them for backward and the memory bill counts them; naive never trains here)
    small = t_q * t_k <= (BMM_MAX_SCORES if train else NAIVE_MAX_SCORES)
    names = ["sdpa"] + (["flash"] if dropout_p == 0 else []) + (["bmm"] if dropout_p == 0 and small else []) \
        + (["naive"] if small and not train else [])
    if train:
        qs, ks, vs = (t.requires_grad_() for t in (qs, ks, vs))

    def run(fn):
        def call():
            with torch.random.fork_rng(devices=[]):   # dropout's draws must not move the run's random stream
                if train:
                    with torch.enable_grad():
                        out = fn(qs, ks, vs, timed, scale=D ** -0.5, dropout_p=dropout_p)
                        torch.autograd.grad(out.float().sum(), (qs, ks, vs))
                else:
                    with torch.no_grad():
                        fn(qs, ks, vs, timed, scale=D ** -0.5, dropout_p=0.0)
        return call
    return {n: run(_BACKEND_FNS[n]) for n in names}
