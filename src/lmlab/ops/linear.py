"""y = x Wᵀ + b, with its three matrix products sent to oneDNN on the CPU in fp32.

A linear layer costs three matrix products per training step: the forward x Wᵀ, the input
gradient g W and the weight gradient gᵀ x. On the CPU, PyTorch sends fp32 products to MKL's sgemm,
which on AMD processors runs its AVX2 code path; oneDNN (also shipped inside PyTorch, and what it
already uses for bf16) runs AVX-512 there. On this machine's AMD EPYC that is 1.8–2.2× for the
forward and input-gradient products and 1.0–1.3× for the weight gradient, whose operands must first
be copied transposed (`python benchmarks/linear_kernels.py`; BENCHMARKS.md).
The results are fp32 products summed in another order: they differ from F.linear by float rounding
(~1e-6 relative), as any two GEMM libraries do.

`linear(x, weight, bias)` takes that path only where it applies: CPU tensors in fp32, outside
autocast (bf16 autocast already reaches oneDNN through PyTorch), with oneDNN present; everywhere
else it is F.linear. `set_linear_kernel("torch")` switches the whole process back to F.linear.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KERNELS = ("auto", "torch", "onednn")
_kernel = "auto"


def set_linear_kernel(name: str) -> str:
    """Choose the CPU fp32 kernel for every lmlab linear layer: auto (oneDNN where it applies),
    torch (F.linear everywhere) or onednn (like auto). Returns the previous choice."""
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


def uses_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether linear(x, weight) takes the oneDNN path."""
    return (_ONEDNN and _kernel != "torch" and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and x.dim() >= 2 and x.numel() > 0
            and not torch.is_autocast_enabled("cpu"))


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x (…, K), weight (N, K), bias (N,) -> (…, N); the same as F.linear up to float rounding."""
    if uses_onednn(x, weight):
        return _OneDNNLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)
