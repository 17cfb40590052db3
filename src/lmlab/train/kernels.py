"""The kernels a training run uses, decided once and recorded, so that `--resume` replays them.

Three decisions shape a CPU training step's numbers and speed: the fp32 linear kernel (MKL or oneDNN,
lmlab.ops.linear, chosen per layer shape), the attention backend of `attn_backend auto` (per kind of
call, lmlab.ops.attention.auto_backend) and, for `--dtype auto`, the precision (bf16 autocast or fp32).
All are measured on this machine by lmlab.ops.autotune. A run records what it trained with
(train_state.pt and config.json's "kernels": the switch, the kernel of each layer shape met so far, the
attention backend of each kind of call met so far, the dtype), and a resumed run takes the recorded kernels rather than today's cache, so exact resume survives
a cleared cache, a new torch or a different thread count. An explicit choice (`--dtype bf16`,
`set_linear_kernel("torch")`) always wins over both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmlab.ops import autotune
from lmlab.ops.attention import AUTO as ATTENTION_CHOICE
from lmlab.ops.cpu import CpuInfo, cpu_info
from lmlab.ops.linear import _ONEDNN, CHOICE, kernel_setting, linear
from lmlab.train import distributed as D

LINEAR, SHAPES, ATTENTION, DTYPE = "linear_fp32", "linear_fp32_shapes", "attention", "dtype"
PRECISIONS = ("fp32", "bf16")
LEGACY = {LINEAR: "onednn" if _ONEDNN else "torch"}   # what "auto" meant before runs recorded their kernels


def _dtype_candidates(width: tuple[int, int] = (768, 3072), rows: int = 1024) -> dict:
    """A feed-forward pair (d_model, d_ff) = `width` on `rows` rows, forward and backward, in fp32 (lmlab's
    linear, so each layer through the kernel it would train with) and under bf16 autocast (oneDNN's bf16
    products). GPT-2's width by default; a Transformer's own width where the trainer knows it."""
    g = torch.Generator().manual_seed(0)
    C, F_ = width
    x = torch.randn(rows, C, generator=g, requires_grad=True)
    w1 = (torch.randn(F_, C, generator=g) * 0.02).requires_grad_()
    w2 = (torch.randn(C, F_, generator=g) * 0.02).requires_grad_()

    def step(dtype):
        def run():
            with torch.enable_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                y = linear(F.gelu(linear(x, w1)), w2)   # fp32: each shape's faster kernel
                torch.autograd.grad(y.float().sum(), (x, w1, w2))
        return run
    return {p: step(p) for p in PRECISIONS}


def model_width(model: torch.nn.Module) -> tuple[int, int] | None:
    """(d_model, d_ff) of a Transformer whose config says them (GPT, BERT, ViT), else None."""
    cfg = getattr(model, "cfg", None)
    width = getattr(cfg, "d_model", None), getattr(cfg, "ff_dim", None)
    return width if all(isinstance(w, int) and w > 0 for w in width) else None


def cpu_train_dtype(width: tuple[int, int] | None = None) -> str:
    """fp32 or bf16, whichever trains faster on this CPU at this width (measured once per width: at d_model 128
    the products are small enough that casts can eat bf16's gain; with autotuning off, bf16 only where the CPU
    has native bf16)."""
    name = "train_dtype" if width in (None, (768, 3072)) else f"train_dtype/d{width[0]}f{width[1]}"
    return autotune.choose(name, lambda: _dtype_candidates(*([width] if width else [])),
                           default="bf16" if cpu_info().bf16 else "fp32", reps=3)


def resolve(dtype: str, device: torch.device, recorded: dict | None = None,
            width: tuple[int, int] | None = None) -> dict:
    """The kernels to train with: {"linear_fp32": auto|torch|onednn, "linear_fp32_shapes": {choice: kernel},
    "attention": {choice: backend}, "dtype": fp32|bf16|fp16}. `dtype` is the config's (auto: measured on CPU, bf16 on a GPU that has it);
    `recorded`: a resumed run's record (LEGACY for a run from before records), which wins over the cache
    for whatever is left to "auto". `width`: the model's (d_model, d_ff), the workload --dtype auto is measured on."""
    recorded = recorded or {}
    forced = kernel_setting() != "auto"
    linear = kernel_setting() if forced else recorded.get(LINEAR, "auto")
    shapes = {} if forced else dict(recorded.get(SHAPES) or {})
    if dtype != "auto":
        chosen = dtype
    elif recorded.get(DTYPE) in PRECISIONS:
        chosen = recorded[DTYPE]
    elif device.type == "cuda":
        chosen = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    else:
        chosen = cpu_train_dtype(width)
    attention = dict(recorded.get(ATTENTION) or {})
    return {LINEAR: linear, SHAPES: shapes, ATTENTION: attention, DTYPE: chosen}


def current(kernels: dict) -> dict:
    """The record as it stands now: the per-shape linear kernels and attention backends decided so far added."""
    attention = {**kernels.get(ATTENTION, {}), **autotune.decided(ATTENTION_CHOICE + "/")}
    if kernels[LINEAR] != "auto":
        return {**kernels, ATTENTION: attention}
    return {**kernels, SHAPES: {**kernels[SHAPES], **autotune.decided(CHOICE + "/")}, ATTENTION: attention}


def replayed(kernels: dict) -> dict[str, str]:
    """The autotune decisions a run's record fixes (for autotune.replaying): linear shapes, attention calls."""
    return {**kernels[SHAPES], **kernels.get(ATTENTION, {})}


def agree(kernels: dict, dist: D.DistInfo) -> dict:
    """Process 0's dtype on every process (each may have measured differently; the linear kernels may
    differ between processes, which changes only float rounding, as DDP's all-reduce does)."""
    if not dist.enabled:
        return kernels
    options = ("fp32", "bf16", "fp16")
    pick = D.from_main([float(options.index(kernels[DTYPE]))], dist)[0]
    return {**kernels, DTYPE: options[int(pick)]}


def bf16_warning(dtype: str, device: torch.device, info: CpuInfo | None = None) -> str | None:
    """For bf16 training on a CPU without native bf16 (`info`: this one by default): what it costs here
    (measured), and what to do."""
    if dtype != "bf16" or device.type != "cpu":
        return None
    info = info or cpu_info()
    if info.bf16:
        return None
    cpu_train_dtype()
    ms = (autotune.decision("train_dtype") or {}).get("ms", {})
    cost = (f"a step's matrix products measured {ms['bf16'] / ms['fp32']:.2f}× the time of fp32 here "
            f"({ms['bf16']:.1f} vs {ms['fp32']:.1f} ms)" if ms.get("fp32") else "it is emulated through fp32")
    return (f"this CPU ({info.model}) has no native bf16, so bf16 training is not accelerated: {cost}; "
            "--dtype fp32 or --dtype auto (the faster of the two) may train faster")
