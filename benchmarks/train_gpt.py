"""Training throughput: lmlab's GPT against Hugging Face's GPT2LMHeadModel, same config, same step.

    python benchmarks/train_gpt.py                       # default model, fp32, all cores
    python benchmarks/train_gpt.py --quick               # a short smoke run
    python benchmarks/train_gpt.py --dtype bf16          # bf16 autocast for both
    python benchmarks/train_gpt.py --variants lmlab+fused,lmlab+qkv,lmlab+compile --json out.json

What is measured. One training step, identical for every contestant:
    forward -> cross-entropy over all B*T positions -> backward -> clip_grad_norm_(1.0)
    -> AdamW.step -> zero_grad(set_to_none=True)
- lmlab: `lmlab.train.objectives.causal_lm(model, batch)` (the model returns logits; the loss is
  F.cross_entropy(logits.float(), labels) with labels already shifted by the data pipeline).
- Hugging Face (default `--hf_loss logits`): `model(input_ids).logits` and the very same
  F.cross_entropy(logits.float(), labels) over the same B*T positions. With `--hf_loss labels`
  HF gets `model(input_ids, labels=input_ids)` instead and shifts internally (B*(T-1) positions).
- Both: the same GPT2 shape (HF built with GPT2Config from lmlab's `hf_config_from_gpt`: n_embd,
  n_layer, n_head, n_positions, vocab_size, activation gelu_new = tanh GELU, all dropouts 0,
  attn_implementation sdpa), the same initial weights (lmlab's are copied into HF, and the first
  losses are checked to agree), torch.optim.AdamW over `lmlab.optim.param_groups.decay_groups`
  with TrainConfig's lr / betas / weight decay, the same batch, the same torch.set_num_threads.
- fp32 by default; `--dtype bf16` wraps forward + loss of both in torch.autocast("cpu", bfloat16).

Noise. All contestants run in ONE process, interleaved: each round runs `--steps` timed steps of
every contestant (the order rotates from round to round), after `--warmup` untimed steps each.
Each step is timed on its own; the table reports the median over all timed steps (and p25-p75),
the fastest step, and three ratios to HF (of medians, the median of per-round ratios, of the
fastest steps). Per step it also reports minor page faults and kernel (sys) CPU time: with glibc's
default malloc, large activations are mmap'ed and unmapped every step, and the page faults that
refill them cost real time (more for models with more temporaries). `--malloc steady` (mallopt)
makes the allocator keep and reuse them instead; run both to see how much of a gap is allocator.

FLOPs. PaLM / nanoGPT estimate: per token 6*N + 12*n_layers*T*d_model, N = parameters without
the position embedding (the tied token embedding counts once, as the LM-head matmul). Achieved
FLOP/s is compared with the machine's measured matmul peak: the median time of a few 2048x2048
square matmuls at the same thread count (fp32 by torch.mm, i.e. MKL, and by lmlab's oneDNN linear,
the faster of the two being the fp32 peak; bf16 as well with --dtype bf16), sampled once per round;
the best sample is the peak (the machine may be shared).

Profile. `--profile [N]` then runs N more steps of every contestant under torch.profiler and prints,
per contestant, the GEMM share of the step's self CPU time and the rest by op (benchmarks/_profile.py:
self time, so nothing is counted twice), and a side-by-side markdown table; JSON to --profile_json.

Variants (prototypes of possible lmlab changes, measured in the same interleaved rounds), given as
`base+opt+opt`, base in {lmlab, hf}:
    fused     AdamW(fused=True)           foreach   AdamW(foreach=True)
    qkv       lmlab only: one fused (C, 3C) q/k/v projection instead of three Linear layers
    nofloat   lmlab only: the loss without the .float() upcast of the logits (under CPU autocast
              cross_entropy runs in fp32 anyway: the same numbers)
    compile   torch.compile(model) (inductor), as TrainConfig.compile does; compile time is reported
    compileloss  torch.compile of the whole objective (model forward + cross-entropy)
    fastgelu  hf only: activation gelu_pytorch_tanh (the fused kernel) instead of gelu_new
    naive     lmlab only: attn_backend="naive" (explicit QK^T, mask, softmax, @V)
    eager     hf only: attn_implementation="eager" (HF's explicit attention), the twin of lmlab+naive
    explicit  lmlab only: a leaner explicit attention, same maths as "naive": one
              baddbmm(cached additive -inf mask, Q, K^T, alpha=1/sqrt(d)), softmax, bmm
    math      F.scaled_dot_product_attention restricted to its math (unfused) backend
    mkl       lmlab only: its fp32 linear layers forced to F.linear (MKL), set_linear_kernel("torch")
    onednn    lmlab only: forced to oneDNN (plain `lmlab` is "auto": per layer shape, whichever of the
              two this machine measured faster, lmlab.ops.autotune)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

try:
    import resource  # page-fault counts (POSIX only)
except ImportError:
    resource = None

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.models.gpt.config import GPTConfig
from lmlab.models.gpt.model import GPT
from lmlab.models.gpt.presets import PRESETS
from lmlab.ops.cpu import cpu_info
from lmlab.ops.linear import _mm, linear, resolved_kernel, set_linear_kernel
from lmlab.optim.param_groups import decay_groups
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import causal_lm

# The default model: nanoGPT's Shakespeare shape (d_model 384, 6 layers, 6 heads, T 256) with an
# 8k-token BPE vocabulary: 10.7M parameters in the blocks, 13.9M in all (tied head counted once).
DEFAULTS = dict(d_model=384, n_layers=6, n_heads=6, seq_len=256, vocab=8192, batch=8)
QUICK = dict(d_model=128, n_layers=2, n_heads=4, seq_len=64, vocab=1024, batch=4, steps=2, rounds=4, warmup=1)
OPTIONS = {"fused", "foreach", "qkv", "nofloat", "compile", "compileloss", "fastgelu", "naive", "explicit", "math",
           "eager", "mkl", "onednn"}


# ------------------------------------------------------------------------------- models ---

def lmlab_config(args) -> GPTConfig:
    base = dict(PRESETS[args.preset]) if args.preset else {}
    over = {"d_model": args.d_model, "n_layers": args.n_layers, "n_heads": args.n_heads, "vocab_size": args.vocab}
    cfg = {**base, **{k: v for k, v in over.items() if v is not None}}
    if not args.preset:
        for k, d in (("d_model", "d_model"), ("n_layers", "n_layers"), ("n_heads", "n_heads"), ("vocab_size", "vocab")):
            cfg.setdefault(k, DEFAULTS[d])
    cfg["max_seq_len"] = max(cfg.get("max_seq_len", 0), args.seq_len)
    return GPTConfig(**{**cfg, "dropout": 0.0})


def hf_model(cfg: GPTConfig, lmlab_model: GPT, activation: str | None = None, attn: str = "sdpa") -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    from lmlab.io import hf_gpt2

    try:
        hf_cfg = hf_gpt2.hf_config_from_gpt(cfg)
    except Exception as e:
        raise SystemExit(f"this config has no Hugging Face GPT-2 twin: {e}") from None
    hf_cfg.update(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None)
    if activation:
        hf_cfg["activation_function"] = activation
    hf_cfg = {k: v for k, v in hf_cfg.items() if k not in ("model_type", "architectures")}
    model = GPT2LMHeadModel(GPT2Config(**hf_cfg, attn_implementation=attn))
    try:  # the same starting point: lmlab's initial weights, in HF's layout
        missing, unexpected = model.load_state_dict(hf_gpt2._to_hf_state_dict(lmlab_model), strict=False)
        bad = [k for k in missing if not k.endswith("lm_head.weight")] + list(unexpected)
        if bad:
            raise RuntimeError(f"weights do not map: {bad[:4]}")
        model.tie_weights()
    except Exception as e:  # a private helper: if it changes, the speed comparison still stands
        print(f"note: HF keeps its own initial weights ({type(e).__name__}: {e})", file=sys.stderr)
    return model


class FusedQKVAttention(nn.Module):
    """Prototype: lmlab's MultiHeadAttention (self-attention) with one (C, C + 2*kv) projection."""

    def __init__(self, mha: nn.Module):
        super().__init__()
        import lmlab.nn.attention as nn_attention
        self._attention = nn_attention.attention
        self.n_heads, self.n_kv_heads, self.head_dim = mha.n_heads, mha.n_kv_heads, mha.head_dim
        self.causal, self.backend, self.dropout = mha.causal, mha.backend, mha.dropout
        q, k, v = mha.q_proj, mha.k_proj, mha.v_proj
        self.splits = [q.out_features, k.out_features, v.out_features]
        self.qkv_proj = nn.Linear(q.in_features, sum(self.splits), bias=q.bias is not None)
        with torch.no_grad():
            self.qkv_proj.weight.copy_(torch.cat([q.weight, k.weight, v.weight]))
            if q.bias is not None:
                self.qkv_proj.bias.copy_(torch.cat([q.bias, k.bias, v.bias]))
        self.out_proj, self.resid_dropout = mha.out_proj, mha.resid_dropout

    def forward(self, x, memory=None, mask=None):
        assert memory is None
        B, T, C = x.shape
        q, k, v = self.qkv_proj(x).split(self.splits, dim=-1)
        q = q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if self.n_kv_heads != self.n_heads:
            g = self.n_heads // self.n_kv_heads
            k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
        y = self._attention(q, k, v, mask=mask, causal=self.causal, dropout_p=self.dropout,
                            training=self.training, backend=self.backend)
        return self.resid_dropout(self.out_proj(y.transpose(1, 2).reshape(B, T, C)))


def fuse_qkv_(model: GPT) -> bool:
    done = False
    for block in getattr(model, "blocks", []):
        attn = block.attn
        if all(hasattr(attn, n) for n in ("q_proj", "k_proj", "v_proj")):
            block.attn = FusedQKVAttention(attn)
            done = True
    return done


_ADD_MASKS: dict = {}


def explicit_attention(q, k, v, mask=None, causal=False, dropout_p=0.0, training=False):
    """Prototype: softmax(Q K^T / sqrt(d) + M) V with a cached additive causal mask and one baddbmm."""
    assert mask is None and dropout_p == 0.0 and causal
    B, H, T, D = q.shape
    S = k.size(-2)
    key = (T, S, q.dtype)
    if key not in _ADD_MASKS:
        allowed = torch.arange(S)[None, :] <= torch.arange(T)[:, None] + (S - T)
        _ADD_MASKS[key] = torch.zeros(T, S, dtype=q.dtype).masked_fill(~allowed, float("-inf"))
    scores = torch.baddbmm(_ADD_MASKS[key].expand(B * H, T, S), q.reshape(B * H, T, D),
                           k.reshape(B * H, S, D).transpose(1, 2), alpha=1 / math.sqrt(D))
    return torch.bmm(torch.softmax(scores, dim=-1), v.reshape(B * H, S, D)).view(B, H, T, D)


def install_explicit_backend() -> None:
    """Route attn_backend="explicit" to `explicit_attention`; every other backend is untouched."""
    import lmlab.nn.attention as nn_attention
    if getattr(nn_attention.attention, "_bench_patched", False):
        return
    original = nn_attention.attention

    def attention(q, k, v, mask=None, causal=False, dropout_p=0.0, training=False, backend="sdpa"):
        if backend == "explicit":
            return explicit_attention(q, k, v, mask, causal, dropout_p, training)
        return original(q, k, v, mask=mask, causal=causal, dropout_p=dropout_p, training=training, backend=backend)

    attention._bench_patched = True
    nn_attention.attention = attention


def causal_lm_nofloat(model, batch):
    logits = model(batch["input_ids"])
    return {"loss": F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)}


# ---------------------------------------------------------------------------- contestants ---

@dataclass
class Contestant:
    name: str
    model: nn.Module
    net: nn.Module                     # what is called (the model, or torch.compile of it)
    loss_fn: object                    # (net, batch) -> loss
    optimizer: torch.optim.Optimizer
    times: list = field(default_factory=list)      # per timed step: (total, fwd, bwd, clip, opt, page faults, sys s)
    rounds: list = field(default_factory=list)     # per round: the median step time
    warmup_s: list = field(default_factory=list)
    losses: list = field(default_factory=list)


def build(name: str, cfg: GPTConfig, args, train_cfg: TrainConfig) -> Contestant:
    base, *opts = name.split("+")
    unknown = set(opts) - OPTIONS
    if base not in ("lmlab", "hf") or unknown:
        raise SystemExit(f"bad variant '{name}': base lmlab|hf, options {sorted(OPTIONS)}")
    torch.manual_seed(args.seed)
    if base == "lmlab" and "naive" in opts:
        cfg = dataclasses.replace(cfg, attn_backend="naive")
    if base == "lmlab" and "explicit" in opts:
        install_explicit_backend()
        cfg = dataclasses.replace(cfg, attn_backend="explicit")
    lm = GPT(cfg)
    if base == "lmlab":
        model = lm
        if "qkv" in opts and not fuse_qkv_(model):
            print(f"note: {name}: no separate q/k/v projections found; nothing fused", file=sys.stderr)
        obj = causal_lm_nofloat if "nofloat" in opts else causal_lm
        loss_fn = lambda net, b, obj=obj: obj(net, b)["loss"]
    else:
        model = hf_model(cfg, lm, "gelu_pytorch_tanh" if "fastgelu" in opts else None,
                         "eager" if "eager" in opts else "sdpa")
        if args.hf_loss == "labels":
            loss_fn = lambda net, b: net(b["input_ids"], labels=b["input_ids"]).loss
        else:
            loss_fn = lambda net, b: F.cross_entropy(net(b["input_ids"]).logits.flatten(0, 1).float(),
                                                     b["labels"].flatten(), ignore_index=-100)
    model.train()
    kw = {"fused": True} if "fused" in opts else {"foreach": True} if "foreach" in opts else {}
    optimizer = torch.optim.AdamW(decay_groups(model, train_cfg.weight_decay), lr=train_cfg.lr,
                                  betas=(train_cfg.beta1, train_cfg.beta2), **kw)
    net = torch.compile(model) if "compile" in opts else model
    if "compileloss" in opts:
        loss_fn = torch.compile(loss_fn)
    if "math" in opts:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        inner = loss_fn
        def loss_fn(net, b, inner=inner):
            with sdpa_kernel(SDPBackend.MATH):
                return inner(net, b)
    if base == "lmlab" and {"mkl", "onednn"} & set(opts):  # the forward's choice also decides its backward
        kernel, forced = "torch" if "mkl" in opts else "onednn", loss_fn
        def loss_fn(net, b, inner=forced, kernel=kernel):
            previous = set_linear_kernel(kernel)
            try:
                return inner(net, b)
            finally:
                set_linear_kernel(previous)
    return Contestant(name, model, net, loss_fn, optimizer)


def train_step(c: Contestant, batch: dict, autocast) -> tuple[float, ...]:
    r0 = resource.getrusage(resource.RUSAGE_SELF) if resource else None
    t0 = time.perf_counter()
    with autocast():
        loss = c.loss_fn(c.net, batch)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(c.model.parameters(), 1.0)
    t3 = time.perf_counter()
    c.optimizer.step()
    c.optimizer.zero_grad(set_to_none=True)
    t4 = time.perf_counter()
    c.losses.append(loss.item())
    r1 = resource.getrusage(resource.RUSAGE_SELF) if resource else None
    faults, sys_s = (r1.ru_minflt - r0.ru_minflt, r1.ru_stime - r0.ru_stime) if resource else (0, 0.0)
    return (t4 - t0, t1 - t0, t2 - t1, t3 - t2, t4 - t3, faults, sys_s)


# ---------------------------------------------------------------------------------- peaks ---

def matmul_peak(dtype: torch.dtype, kernel: str = "torch", n: int = 2048, reps: int = 5) -> float:
    """FLOP/s of an n x n @ n x n matmul: 2 n^3 over the median of `reps` timed runs. kernel "torch"
    is `a @ b` (MKL for fp32 on the CPU), "onednn" is lmlab.ops.linear's oneDNN product (whatever its
    "auto" would pick for this shape)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    mm = (lambda: a @ b) if kernel == "torch" else (lambda: _mm(a, b)) if dtype == torch.float32 else \
        (lambda: linear(a, b))
    with torch.no_grad():
        for _ in range(2):
            mm()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            mm()
            ts.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(ts)


def flops_per_token(model: GPT, cfg: GPTConfig, T: int) -> float:
    n = model.num_parameters()
    if cfg.pos_embedding == "learned":
        n -= model.pos_emb.weight.numel()
    return 6 * n + 12 * cfg.n_layers * T * cfg.d_model


# ----------------------------------------------------------------------------------- main ---

def steady_malloc() -> bool:
    """glibc: serve big blocks from the heap and never trim it, so freed activations are reused
    instead of being unmapped and page-faulted in again on every step (mallopt, as the
    MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ variables would)."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 2**30) and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
                    and libc.mallopt(M_TOP_PAD, 2**28))
    except (OSError, AttributeError):
        return False


def quantile(xs, q):
    xs = sorted(xs)
    i = (len(xs) - 1) * q
    lo, hi = math.floor(i), math.ceil(i)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), help="start from an lmlab GPT preset")
    p.add_argument("--d_model", type=int)
    p.add_argument("--n_layers", type=int)
    p.add_argument("--n_heads", type=int)
    p.add_argument("--vocab", type=int)
    p.add_argument("--seq_len", type=int, help="T (default 256, or the preset's max_seq_len)")
    p.add_argument("--batch", type=int, help="B, sequences per step (default 8)")
    p.add_argument("--steps", type=int, default=1, help="timed steps per contestant per round")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per contestant before round 1")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--malloc", choices=("default", "steady"), default="default",
                   help="steady: glibc mallopt so large freed blocks are reused, not unmapped (fewer page faults)")
    p.add_argument("--hf_loss", choices=("logits", "labels"), default="logits",
                   help="logits: same F.cross_entropy over B*T positions as lmlab (default); "
                        "labels: HF's own shifted loss, model(ids, labels=ids)")
    p.add_argument("--variants", default="", help="extra contestants, comma-separated, e.g. lmlab+fused,lmlab+qkv")
    p.add_argument("--no_baseline", action="store_true", help="run only --variants (plus hf as the reference)")
    p.add_argument("--profile", type=int, nargs="?", const=3, default=0, metavar="N",
                   help="after timing, torch.profiler N steps (default 3) of every contestant: the GEMM share "
                        "and the rest by op, by self CPU time (benchmarks/_profile.py)")
    p.add_argument("--profile_json", default="benchmarks/results/train_gpt_profile.json",
                   help="where --profile writes its tables (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet_rounds", action="store_true", help="do not print a line per round")
    p.add_argument("--quick", action="store_true", help="a tiny model and a few steps (smoke test)")
    p.add_argument("--json", metavar="PATH", help="write every number (and per-step times) here")
    args = p.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            if k in ("steps", "rounds", "warmup"):
                if getattr(args, k) == p.get_default(k):
                    setattr(args, k, v)
            elif getattr(args, k) is None and not args.preset:
                setattr(args, k, v)
    if args.seq_len is None:
        args.seq_len = PRESETS[args.preset]["max_seq_len"] if args.preset else DEFAULTS["seq_len"]
    if args.batch is None:
        args.batch = DEFAULTS["batch"]
    return args


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if args.malloc == "steady" and not steady_malloc():
        print("note: --malloc steady needs glibc's mallopt; running with the default allocator", file=sys.stderr)
        args.malloc = "default"
    torch.set_num_threads(args.threads)
    cfg = lmlab_config(args)
    B, T = args.batch, args.seq_len
    train_cfg = TrainConfig()
    names = ([] if args.no_baseline else ["lmlab"]) + ["hf"]
    names += [v for v in (s.strip() for s in args.variants.split(",")) if v and v not in names]
    amp_dtype = torch.bfloat16 if args.dtype == "bf16" else None
    autocast = (lambda: torch.autocast("cpu", dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext

    g = torch.Generator().manual_seed(args.seed)
    seqs = [torch.randint(0, cfg.vocab_size, (B, T + 1), generator=g) for _ in range(4)]
    batches = [{"input_ids": s[:, :-1].contiguous(), "labels": s[:, 1:].contiguous()} for s in seqs]

    print("lmlab GPT vs Hugging Face GPT2LMHeadModel: training tokens/s, one process, interleaved")
    print(f"CPU {cpu_info().label()}; torch {torch.__version__}, {os.cpu_count()} cores, dtype {args.dtype}, "
          f"malloc {args.malloc}, lmlab's fp32 linear kernel {resolved_kernel()}")
    contestants = [build(n, cfg, args, train_cfg) for n in names]
    ref = contestants[0].model
    fpt = flops_per_token(ref if isinstance(ref, GPT) else GPT(cfg), cfg, T)
    n_params = GPT(cfg).num_parameters()
    print(f"model: d_model {cfg.d_model}, n_layers {cfg.n_layers}, n_heads {cfg.n_heads}, vocab {cfg.vocab_size}, "
          f"T {T}, batch {B} ({B * T} tokens/step), {n_params / 1e6:.2f}M parameters; "
          f"AdamW lr {train_cfg.lr} betas ({train_cfg.beta1}, {train_cfg.beta2}) wd {train_cfg.weight_decay}; "
          f"HF loss: {args.hf_loss}")

    # fp32 has two kernels on the CPU (MKL behind torch.mm, oneDNN behind lmlab's linear layers):
    # the peak is the faster of the two.
    peak_dtypes = {"fp32": (torch.float32, "torch"), "fp32-onednn": (torch.float32, "onednn"),
                   **({"bf16": (torch.bfloat16, "torch")} if amp_dtype else {})}
    peak_samples = {k: [matmul_peak(*d)] for k, d in peak_dtypes.items()}

    # warm-up (and compilation)
    for c in contestants:
        for i in range(args.warmup):
            t0 = time.perf_counter()
            train_step(c, batches[i % len(batches)], autocast)
            c.warmup_s.append(time.perf_counter() - t0)
    first = {c.name: c.losses[0] for c in contestants}
    print("first-step loss: " + ", ".join(f"{k} {v:.5f}" for k, v in first.items()))

    n = len(contestants)
    for r in range(args.rounds):
        for j in range(n):
            c = contestants[(r + j) % n]
            for s in range(args.steps):
                c.times.append(train_step(c, batches[s % len(batches)], autocast))
            c.rounds.append(statistics.median(t[0] for t in c.times[-args.steps:]))
        for k, d in peak_dtypes.items():  # sampled every round: the least disturbed sample is the peak
            peak_samples[k].append(matmul_peak(*d))
        if not args.quiet_rounds:
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{c.name} {c.rounds[-1] * 1e3:.0f} ms"
                                                              for c in contestants), flush=True)

    # ------------------------------------------------------------------------------ report
    peaks = {k: max(v) for k, v in peak_samples.items()}
    print("matmul peak (2048^2 matmul, median of 5 runs, best of " f"{args.rounds + 1} samples, one per round): "
          + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s (median sample {statistics.median(peak_samples[k]) / 1e9:.1f})"
                      for k, v in peaks.items()))
    peak = peaks["bf16"] if amp_dtype else max(peaks["fp32"], peaks["fp32-onednn"])
    hf = next(c for c in contestants if c.name == "hf")
    hf_med = statistics.median(t[0] for t in hf.times)
    rows = []
    for c in contestants:
        tot = [t[0] for t in c.times]
        med = statistics.median(tot)
        phases = [statistics.median(t[i] for t in c.times) for i in range(1, 5)]
        tps = B * T / med
        rows.append(dict(name=c.name, ms_step=med * 1e3, p25=quantile(tot, 0.25) * 1e3, p75=quantile(tot, 0.75) * 1e3,
                         best_ms=min(tot) * 1e3, tokens_per_s=tps, vs_hf=hf_med / med,
                         vs_hf_paired=statistics.median(h / x for h, x in zip(hf.rounds, c.rounds)),
                         vs_hf_best=min(t[0] for t in hf.times) / min(tot), fwd_ms=phases[0] * 1e3, bwd_ms=phases[1] * 1e3,
                         clip_ms=phases[2] * 1e3, opt_ms=phases[3] * 1e3,
                         page_faults=statistics.median(t[5] for t in c.times),
                         sys_ms=statistics.median(t[6] for t in c.times) * 1e3, flops=fpt * tps, mfu=fpt * tps / peak,
                         first_loss=c.losses[0], warmup_s=c.warmup_s, step_s=tot))
    hdr = (f"{'contestant':<22}{'ms/step':>9}{'p25-p75':>13}{'best':>7}{'tokens/s':>10}{'x HF':>7}{'paired':>7}{'best':>6}"
           f"{'fwd':>8}{'bwd':>8}{'clip':>7}{'opt':>7}{'faults':>8}{'sys':>6}{'GFLOP/s':>9}{'% peak':>8}")
    print()
    print(hdr)
    print("-" * len(hdr))
    for row in rows:
        print(f"{row['name']:<22}{row['ms_step']:>9.1f}{row['p25']:>6.0f}-{row['p75']:<6.0f}{row['best_ms']:>7.0f}"
              f"{row['tokens_per_s']:>10,.0f}{row['vs_hf']:>7.2f}{row['vs_hf_paired']:>7.2f}{row['vs_hf_best']:>6.2f}"
              f"{row['fwd_ms']:>8.1f}{row['bwd_ms']:>8.1f}{row['clip_ms']:>7.1f}"
              f"{row['opt_ms']:>7.1f}{row['page_faults'] / 1e3:>7.1f}k{row['sys_ms']:>6.0f}{row['flops'] / 1e9:>9.1f}{row['mfu'] * 100:>7.1f}%")
    print(f"(median over {args.rounds} rounds x {args.steps} steps; best = fastest step; tokens/s from the median; "
          f"x HF = HF median / median; paired = median over rounds of the per-round ratio; best = ratio of fastest "
          f"steps; phases are medians in ms; faults = minor page faults and sys = kernel CPU ms (all threads) per step; "
          f"FLOPs = 6N + 12*L*T*d per token = {fpt / 1e6:.1f} MFLOP, N without position embedding; "
          f"% of the measured {'bf16' if amp_dtype else 'fp32'} matmul peak {peak / 1e9:.1f} GFLOP/s)")
    for row in rows:
        if "compile" in row["name"]:
            print(f"{row['name']}: first (compiling) step {row['warmup_s'][0]:.1f} s")

    profiles = {}
    if args.profile:
        from _profile import format_profile, markdown_table, profile_ops
        print(f"\ntorch.profiler, {args.profile} steps of each contestant, self CPU time per step:")
        for c in contestants:
            profiles[c.name] = profile_ops(lambda i, c=c: train_step(c, batches[i % len(batches)], autocast),
                                           args.profile)
            print(format_profile(c.name, profiles[c.name]))
        print("\n" + markdown_table(profiles))
        Path(args.profile_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.profile_json).write_text(json.dumps(
            {"args": vars(args), "cpu": cpu_info().as_dict(), "threads": torch.get_num_threads(),
             "torch": torch.__version__, "ratio_vs_hf": {r["name"]: r["vs_hf"] for r in rows},
             "profiles": profiles}, indent=1) + "\n")
        print(f"wrote {args.profile_json}")

    if args.json:
        out = dict(args=vars(args), config=asdict(cfg), tokens_per_step=B * T, flops_per_token=fpt,
                   n_params=n_params, torch=torch.__version__, threads=torch.get_num_threads(),
                   cpu=cpu_info().as_dict(), linear_kernel=resolved_kernel(),
                   matmul_peak_flops=peaks, matmul_peak_samples=peak_samples, results=rows, profiles=profiles)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
