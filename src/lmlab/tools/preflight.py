"""Pre-flight: will one training step fit in memory, and how long will it take? Asked before anything is built.

Memory is the peak of one step, from the bill of `lmlab memory` (tools/memory) where the family gives it
(`Family.memory`), else from the parameter count (weights, gradients, optimizer states: training_bill) and
the activations of a Transformer layer, 34·C bytes a token in 16 bits (Korthikanti et al. 2022, "Reducing
Activation Recomputation in Large Transformer Models", §4.1, without the T×T scores that fused attention
kernels do not keep), plus three B·T·V fp32 tensors of the loss. The time of one step is its FLOPs,
(6·P + 12·L·C·T) a token (Chowdhery et al. 2022, PaLM, appendix B), over the peak of a matrix product
measured here: a lower bound, as real steps reach a fraction of that peak. A step that cannot fit is
refused with the figures; one that takes over a minute is announced.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.errors import LmlabError
from lmlab.runs.families import Family, resolve
from lmlab.tools.memory import training_bill
from lmlab.units import binary_bytes

SLOW_STEP = 60.0          # seconds: a step slower than this is announced
MIN_FLOPS = 1e9           # FLOP/s that any machine does: below SLOW_STEP · MIN_FLOPS no measurement is needed


@dataclass(frozen=True)
class StepEstimate:
    params: int
    tokens: int             # per optimizer step (batch_size × seq_len × grad_accum)
    peak_bytes: float       # one step's estimated peak memory
    activation_bytes: float
    flops: float            # one step's floating-point operations


def available_memory(device: torch.device) -> tuple[int, str]:
    """Bytes that training can still allocate on `device`, and where the figure comes from."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free, f"free on {device}, {torch.cuda.get_device_name(device)}"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except OSError:
        pass
    import os
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "free physical pages"


def matmul_flops(device: torch.device, n: int = 1024, repeats: int = 3) -> float:
    """FLOP/s of an n×n fp32 matrix product on `device`, the best of a few (after one warm-up)."""
    a = torch.randn(n, n, device=device)
    best = float("inf")
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        a @ a
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / max(best, 1e-9)


SHAPES = ("d_model", "max_seq_len", "vocab_size")   # what the estimate reads off a model config (DESIGN's names)


def estimable(family: Family, model_cfg, train_cfg) -> bool:
    """Whether the estimate applies: a parameter count registered, a sequence model's shapes, a batch size."""
    return (family.count is not None and all(hasattr(model_cfg, k) for k in SHAPES)
            and all(hasattr(train_cfg, k) for k in ("batch_size", "grad_accum", "dtype", "optimizer")))


def estimate(family: Family, model_cfg, train_cfg, lora_rank: int | None = None, qlora: bool = False) -> StepEstimate:
    """The peak memory and FLOPs of one training step of `family`'s model `model_cfg` (nothing is built)."""
    if not estimable(family, model_cfg, train_cfg):
        raise ValueError(f"no estimate for the {family.name} family: it needs a parameter count and "
                         f"{', '.join(SHAPES)}")
    P = int(resolve(family.count)(model_cfg))
    B, T = train_cfg.batch_size, model_cfg.max_seq_len
    C, L, V = model_cfg.d_model, int(getattr(model_cfg, "n_layers", 1)), model_cfg.vocab_size
    N = B * T
    precision = "fp32" if train_cfg.dtype == "auto" else train_cfg.dtype   # auto may pick fp32: the larger bill
    dtype, mixed = (precision, True) if precision != "fp32" else ("fp32", False)
    optimizer = train_cfg.optimizer.removeprefix("torch-")
    method = "full" if lora_rank is None else "qlora" if qlora else "lora"
    if family.memory:
        bill = resolve(family.memory)(model_cfg, batch=B, seq_len=T, dtype=dtype, mixed=mixed, optimizer=optimizer,
                                      method=method, lora_rank=lora_rank or 8)
        peak, act = bill.peak.bytes, bill.activations.bytes
    else:  # no bill for this family: its four rows from the count, the activations from the shapes
        act = L * N * 34 * C * (2 if dtype == "fp32" else 1) + 3 * N * V * 4
        peak = training_bill(params=P, dtype=dtype, mixed=mixed, optimizer=optimizer).total + act
    flops = (6 * P + 12 * L * C * T) * N * train_cfg.grad_accum
    return StepEstimate(P, N * train_cfg.grad_accum, peak, act, flops)


def _count(n: float) -> str:
    for unit, scale in (("quadrillion", 1e15), ("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if n >= scale:
            return f"{n / scale:,.3g} {unit}"
    return f"{n:,.0f}"


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} minutes"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} hours"
    return f"{s / 86400:,.0f} days"


def preflight(family: Family, model_cfg, train_cfg, device: torch.device, lora_rank: int | None = None,
              qlora: bool = False) -> str | None:
    """Refuse (LmlabError, with the figures) a training step that cannot fit in `device`'s memory; return a
    warning when one step will take more than a minute, else None. Families the estimate does not know
    (no parameter count, not a sequence model) pass unchecked."""
    if not estimable(family, model_cfg, train_cfg):
        return None
    est = estimate(family, model_cfg, train_cfg, lora_rank, qlora)
    what = (f"{_count(est.params)} parameters, {train_cfg.batch_size:,} × {model_cfg.max_seq_len:,} tokens a "
            f"batch" + (f" × {train_cfg.grad_accum} micro-batches" if train_cfg.grad_accum > 1 else ""))
    have, source = available_memory(device)
    if est.peak_bytes > have:
        raise LmlabError(f"one training step needs about {binary_bytes(est.peak_bytes)} ({what}; activations "
                         f"{binary_bytes(est.activation_bytes)}; `lmlab memory` itemises it) but {binary_bytes(have)} is "
                         f"available ({source}); lower --batch_size or --max_seq_len, or pick a smaller model")
    if est.flops < SLOW_STEP * MIN_FLOPS:
        return None
    speed = matmul_flops(device)
    seconds = est.flops / speed
    if seconds < SLOW_STEP:
        return None
    total = (f", {_duration(seconds * train_cfg.max_steps)} for {train_cfg.max_steps:,} steps"
             if train_cfg.max_steps > 1 else "")
    return (f"one training step ({what}) is {est.flops:.3g} FLOPs: at least {_duration(seconds)} at this "
            f"machine's measured {speed / 1e9:,.0f} GFLOP/s{total}; memory about {binary_bytes(est.peak_bytes)} of "
            f"{binary_bytes(have)} available")
