"""Inference-time linear layers from weights pre-packed for oneDNN (CPU only).

Decoding one token at batch 1 is a chain of matrix-vector products: every weight is read once
and used for a single multiply-add, so the speed is set by how fast the weights stream from
memory. PyTorch's default CPU kernel for `F.linear` with one input row reaches well under half
of this machine's read bandwidth; oneDNN's linear, given weights reordered once into its own
blocked layout, streams them about twice as fast (see BENCHMARKS.md). This is the kernel that
torch.compile's CPU "freezing" picks for linear layers; here it is applied without compiling.

`packed_linears(model)` is a context manager: inside it every `nn.Linear` of the model runs from
a packed copy of its weight (extra memory: one more copy of the linear weights); on exit the
modules are as before. Outside no_grad, in training mode, or where oneDNN lacks the kernel
(other devices, dtypes other than fp32/bf16), or where this CPU streams the plain weights at least as
fast (`packing_pays`, measured once per machine by lmlab.ops.autotune), layers keep their ordinary
forward: packing is never the slower path. The packed
kernel sums in a different order, so results differ from F.linear by float rounding (~1e-6 rel.).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from lmlab.ops import autotune
from lmlab.ops.linear import linear


def packing_supported(weight: torch.Tensor) -> bool:
    """oneDNN can pack this weight: a CPU tensor in fp32 (or bf16 where the CPU has bf16 units)."""
    if weight.device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    ops = torch.ops.mkldnn
    if not (hasattr(ops, "_reorder_linear_weight") and hasattr(ops, "_linear_pointwise")):
        return False
    if weight.dtype == torch.bfloat16:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return weight.dtype == torch.float32


def packing_pays(dtype: torch.dtype) -> bool:
    """Whether a one-row product from packed weights beats F.linear on this machine, in this dtype
    (decided once by timing a few 2048×2048 matrix-vector products each way; packed when not measured)."""
    name = "bf16" if dtype == torch.bfloat16 else "fp32"

    def candidates():
        g = torch.Generator().manual_seed(0)
        ws = [torch.randn(2048, 2048, generator=g).to(dtype) for _ in range(4)]   # 64 MB in fp32: past L2
        packed = [torch.ops.mkldnn._reorder_linear_weight(w, 1) for w in ws]
        x = torch.randn(1, 2048, generator=g).to(dtype)
        with torch.no_grad():
            return {"plain": lambda: [torch.nn.functional.linear(x, w) for w in ws],
                    "packed": lambda: [torch.ops.mkldnn._linear_pointwise(x, p, None, "none", [], "")
                                       for p in packed]}
    return autotune.choose(f"decode_weights_{name}", candidates, default="packed", reps=7) == "packed"


def _packed_forward(module: nn.Linear, packed: torch.Tensor):
    def forward(x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or module.training or x.dtype != packed.dtype:
            return linear(x, module.weight, module.bias)
        return torch.ops.mkldnn._linear_pointwise(x, packed, module.bias, "none", [], "")
    return forward


@contextlib.contextmanager
def packed_linears(model: nn.Module, enabled: bool = True) -> Iterator[int]:
    """Run the model's linear layers from oneDNN-packed weights inside the block; yields how many."""
    patched: list[nn.Linear] = []
    try:
        if enabled:
            with torch.no_grad():
                for m in model.modules():
                    if (isinstance(m, nn.Linear) and packing_supported(m.weight) and "forward" not in m.__dict__
                            and packing_pays(m.weight.dtype)):
                        packed = torch.ops.mkldnn._reorder_linear_weight(m.weight.detach(), 1)
                        m.forward = _packed_forward(m, packed)
                        patched.append(m)
        yield len(patched)
    finally:
        for m in patched:
            del m.forward
