"""y = x Wᵀ + b, with its three matrix products sent to MKL (F.linear) or oneDNN on the CPU in fp32,
whichever this machine runs faster.

A linear layer costs three matrix products per training step: the forward x Wᵀ, the input
gradient g W and the weight gradient gᵀ x. On the CPU, PyTorch sends fp32 products to MKL's sgemm.
Which library is faster depends on the processor: on an AMD EPYC with AVX-512 MKL runs its AVX2 code
path and oneDNN (also shipped inside PyTorch, and what it already uses for bf16) is 1.8–2.2× faster for
the forward and input-gradient products; on a Zen 3 EPYC without AVX-512 oneDNN is the slower one
(`python benchmarks/linear_kernels.py`; BENCHMARKS.md, per CPU). So "auto", the default, is decided
by measurement, per layer shape (lmlab.ops.autotune: the layer's forward + backward timed both ways
the first time a shape is met, once per CPU model, torch version and thread count, cached); with
autotuning off, or inside a torch.compile trace before a shape was measured, it follows the CPU's
features (oneDNN on AMD with AVX-512, MKL elsewhere). The results are fp32 products summed in another order: they
differ from F.linear by float rounding (~1e-6 relative), as any two GEMM libraries do.

`linear(x, weight, bias)` takes the oneDNN path only where it applies: CPU tensors in fp32, outside
autocast (bf16 autocast already reaches oneDNN through PyTorch), with oneDNN present; everywhere
else it is F.linear. `set_linear_kernel("torch" | "onednn")` forces one for the whole process (for
experiments, and to replay the kernel a run recorded).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmlab.ops import autotune
from lmlab.ops.cpu import cpu_info

KERNELS = ("auto", "torch", "onednn")
CHOICE = "linear_fp32"          # autotune's choices are named CHOICE/KxN@M
_kernel = "auto"


def set_linear_kernel(name: str) -> str:
    """Choose the CPU fp32 kernel for every lmlab linear layer: auto (the faster on this machine, measured
    once), torch (F.linear everywhere) or onednn (oneDNN where it applies). Returns the previous choice."""
    global _kernel
    if name not in KERNELS:
        raise ValueError(f"linear kernel must be one of {', '.join(KERNELS)}; got '{name}'")
    previous, _kernel = _kernel, name
    return previous


def onednn_available() -> bool:
    ops = torch.ops.mkldnn
    return torch.backends.mkldnn.is_available() and hasattr(ops, "_linear_pointwise")


_ONEDNN = onednn_available()


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a (M, K) @ b(N, K)ᵀ -> (M, N) by oneDNN; both operands contiguous."""
    return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        # keep only what backward will use, as autograd's own linear does: x for the weight's gradient, the
        # weight for the input's (a frozen layer, e.g. under LoRA, must not hold on to its input)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight if ctx.needs_input_grad[0] else None)
        ctx.weight_shape = weight.shape
        ctx.has_bias = bias is not None
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight.contiguous(), bias, "none", [], "")

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        N, K = ctx.weight_shape
        g = grad.reshape(-1, N).contiguous()                                  # (M, N)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _mm(g, weight.t().contiguous()).view(*grad.shape[:-1], K)  # g W: (M, K)
        if ctx.needs_input_grad[1]:
            x2 = x.reshape(-1, K)                                             # (M, K)
            grad_w = _mm(g.t().contiguous(), x2.t().contiguous())            # gᵀ x: (N, K)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(0)
        return grad_x, grad_w, grad_b


def kernel_setting() -> str:
    """The switch as set: auto, torch or onednn."""
    return _kernel


def default_kernel() -> str:
    """What the CPU's features predict, for when nothing is measured: oneDNN on AMD processors with AVX-512
    (where MKL keeps to its AVX2 code), MKL elsewhere (on Intel it runs AVX-512 itself)."""
    info = cpu_info()
    return "onednn" if _ONEDNN and info.avx512 and info.vendor == "AuthenticAMD" else "torch"


_default = default_kernel()


def rows_bucket(m: int) -> int:
    """Rows M rounded up to a power of two in [64, 4096]: the M a choice is measured at (and named by)."""
    return min(4096, max(64, 1 << (max(m, 1) - 1).bit_length()))


def choice_name(m: int, k: int, n: int) -> str:
    """The autotune choice for a (K -> N) layer on about m rows: "linear_fp32/768x3072@2048"."""
    return f"{CHOICE}/{k}x{n}@{rows_bucket(m)}"


def kernel_for(m: int, k: int, n: int) -> str:
    """The fp32 kernel for x (m, k) @ W(n, k)ᵀ: the forced one, else the faster here for this shape
    (measured forward + backward once per CPU, torch version and threads; lmlab.ops.autotune)."""
    if not _ONEDNN:
        return "torch"
    if _kernel != "auto":
        return _kernel
    name = choice_name(m, k, n)
    if torch.compiler.is_compiling():   # no timing inside a trace: what was decided, else the CPU's default
        return autotune.known(name) or _default
    return autotune.choose(name, lambda: _candidates(rows_bucket(m), k, n), _default, reps=5)


def expected_kernel(m: int, k: int, n: int) -> str:
    """What `kernel_for` gives or will give for this shape, with nothing timed: the forced kernel, else this
    process's decision, else the cache's, else the CPU's default. For estimates made before a model exists
    (the memory bill, the pre-flight check), where timing would build the layer's tensors, at any size."""
    if not _ONEDNN:
        return "torch"
    if _kernel != "auto":
        return _kernel
    name = choice_name(m, k, n)
    entry = autotune.decision(name) if autotune.enabled() else None
    return autotune.known(name) or (entry or {}).get("choice") or _default


def resolved_kernel() -> str:
    """The switch with "auto" resolved at a GPT-2-small feed-forward layer (768 -> 3072, 2048 rows)."""
    return kernel_for(2048, 768, 3072)


def _candidates(m: int, k: int, n: int) -> dict:
    """One (k -> n) layer on m rows, forward and backward (the three products), both ways."""
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode(False):   # the first linear layer may run under no_grad or inference_mode
        x = torch.randn(m, k, generator=g, requires_grad=True)
        w = (torch.randn(n, k, generator=g) * 0.02).requires_grad_()

    def step(fn):
        def run():
            with torch.inference_mode(False), torch.enable_grad():
                torch.autograd.grad(fn(x, w, None).sum(), (x, w))
        return run
    return {"torch": step(F.linear), "onednn": step(_OneDNNLinear.apply)}


def uses_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether linear(x, weight) takes the oneDNN path."""
    return (_ONEDNN and _kernel != "torch" and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and x.dim() >= 2 and x.numel() > 0
            and not torch.is_autocast_enabled("cpu")
            and kernel_for(x.numel() // x.shape[-1], weight.shape[1], weight.shape[0]) == "onednn")


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x (…, K), weight (N, K), bias (N,) -> (…, N); the same as F.linear up to float rounding."""
    if uses_onednn(x, weight):
        return _OneDNNLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)
