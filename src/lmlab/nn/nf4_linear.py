"""NF4Linear: a frozen linear layer stored in 4-bit NormalFloat (Dettmers et al. 2023, "QLoRA: Efficient
Finetuning of Quantized LLMs"), and swapping a model's linear layers for it.

A frozen weight W can be kept in a cheaper form: NF4 (lmlab.ops.nf4: 4-bit codes, one absmax per block
of 64, the absmaxes themselves in 8 bits) dequantised on the fly, a piece at a time, whenever a product
with W is needed. Memory for a 7B model: 14 GB of bf16 weights become about 3.6 GB. QLoRA trains LoRA
adapters on such a base (lmlab.peft.qlora); `lmlab quantize nf4` uses it alone.

- `NF4Linear`: a frozen linear layer that holds only the packed codes, the scales and the bias
  (buffers, never parameters). Its forward rebuilds `chunk_weights` weights (whole output rows)
  at a time and multiplies, so the extra memory is one chunk, never the full weight; its backward
  rebuilds them again for the input gradient instead of keeping them (nothing is saved for it).
- `quantize_model(model, NF4Config())` swaps the chosen linear layers (default "all-linear": every
  one but the output layer, as LoRA's and peft's "all-linear" mean it; targets as in lmlab.nn.surgery)
  for NF4Linear, in place; `dequantize_model` puts nn.Linear layers back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lmlab.errors import LmlabError
from lmlab.nn.surgery import resolve_targets, set_module
from lmlab.ops.nf4 import NF4Tensor, bits_per_parameter, dequantize_nf4, dequantize_nf4_range, quantize_nf4

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


@dataclass(frozen=True)
class NF4Config:
    """How quantize_model stores a model's linear layers in NF4, and which ones."""
    blocksize: int = 64                          # weights per absmax scale
    double_quant: bool = True                    # quantise the absmax values too (8-bit, blocks of 256)
    compute_dtype: str | None = None             # fp32, bf16, fp16; None: the dtype the weights had
    targets: tuple[str, ...] = ("all-linear",)   # lmlab.nn.surgery's targets: presets, names, globs, re:REGEX
    chunk_weights: int = 1 << 20                 # weights rebuilt at a time in forward and backward

    def __post_init__(self):
        object.__setattr__(self, "targets", (self.targets,) if isinstance(self.targets, str) else tuple(self.targets))
        if isinstance(self.blocksize, bool) or not isinstance(self.blocksize, int) or self.blocksize < 2 \
                or self.blocksize % 2:
            raise ValueError(f"blocksize must be a positive even number of weights (e.g. 64), got {self.blocksize}")
        if self.compute_dtype is not None and self.compute_dtype not in DTYPES:
            raise ValueError(f"compute_dtype must be one of {', '.join(DTYPES)} (or None), got {self.compute_dtype}")
        if not isinstance(self.chunk_weights, int) or self.chunk_weights <= 0:
            raise ValueError(f"chunk_weights must be a positive integer, got {self.chunk_weights}")
        if not self.targets:
            raise ValueError("targets must name at least one layer pattern (e.g. all-linear)")

    @property
    def bits_per_weight(self) -> float:
        """Nominal storage bits per quantised weight: 4.5 (block 64) or 4.127 with double quantisation."""
        return bits_per_parameter(self.blocksize, self.double_quant)


class _DequantMatmul(torch.autograd.Function):
    """x (M, K) -> x Wᵀ (M, N), W rebuilt chunk by chunk in forward and again in backward; saves nothing."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, layer: NF4Linear) -> torch.Tensor:
        ctx.layer = layer
        y = x.new_empty(x.shape[0], layer.out_features)                 # (M, N)
        for r0, r1, w in layer.weight_chunks(x.dtype):                  # w (r1 - r0, K)
            y[:, r0:r1] = x @ w.t()
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):                              # grad (M, N)
        layer = ctx.layer
        gx = grad.new_zeros(grad.shape[0], layer.in_features)           # (M, K)
        for r0, r1, w in layer.weight_chunks(grad.dtype):
            gx.addmm_(grad[:, r0:r1], w)
        return gx, None


class NF4Linear(nn.Module):
    """y = x Wᵀ + b with W in NF4 (frozen); in_features / out_features as nn.Linear's.

    Buffers: weight_packed (ceil(N·K / 2),) uint8, weight_absmax (N·K / blocksize,) fp32 (uint8
    with double quantisation, then also weight_absmax_scale and weight_absmax_offset), bias (N,).
    """

    def __init__(self, q: NF4Tensor, bias: torch.Tensor | None = None, compute_dtype: torch.dtype | None = None,
                 chunk_weights: int = 1 << 20):
        super().__init__()
        if len(q.shape) != 2:
            raise LmlabError(f"NF4Linear needs a 2-d (out, in) weight, got shape {q.shape}")
        self.out_features, self.in_features = q.shape
        self.blocksize, self.weight_dtype = q.blocksize, q.dtype
        self.compute_dtype = compute_dtype or q.dtype
        self.chunk_weights = chunk_weights
        self.register_buffer("weight_packed", q.packed)
        self.register_buffer("weight_absmax", q.absmax)
        self.register_buffer("weight_absmax_scale", q.absmax_scale)    # None (absent) without double quant
        self.register_buffer("weight_absmax_offset", q.absmax_offset)
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    @classmethod
    def from_linear(cls, linear: nn.Linear, blocksize: int = 64, double_quant: bool = True,
                    compute_dtype: torch.dtype | None = None, chunk_weights: int = 1 << 20) -> NF4Linear:
        """Quantise an nn.Linear's weight; the result keeps no full-precision copy of it."""
        q = quantize_nf4(linear.weight.detach(), blocksize, double_quant)
        return cls(q, linear.bias, compute_dtype, chunk_weights)

    @property
    def quantized(self) -> NF4Tensor:
        """The stored weight as an NF4Tensor (views of the buffers, wherever the module now lives)."""
        return NF4Tensor(self.weight_packed, self.weight_absmax, (self.out_features, self.in_features),
                         self.weight_dtype, self.blocksize, self.weight_absmax_scale, self.weight_absmax_offset)

    @property
    def double_quant(self) -> bool:
        """Whether the absmax scales are themselves quantised (8 bits, blocks of 256)."""
        return self.weight_absmax_scale is not None

    def _apply(self, fn, recurse: bool = True):
        """model.to(device) moves the scales; model.to(dtype) must not round them (they stay fp32)."""
        scales = {k: self._buffers[k] for k in ("weight_absmax", "weight_absmax_scale", "weight_absmax_offset")}
        super()._apply(fn, recurse)
        for k, t in scales.items():
            if t is not None:
                self._buffers[k] = t.to(self._buffers[k].device)
        return self

    def dequantized_weight(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The whole weight (N, K) in full precision: for tests and merging, not for the forward pass."""
        return dequantize_nf4(self.quantized, dtype or self.compute_dtype)

    def chunk_rows(self) -> int:
        """Output rows rebuilt at a time: about chunk_weights weights, in whole NF4 blocks."""
        K = self.in_features
        step = self.blocksize // math.gcd(K, self.blocksize)  # rows that end on a block boundary
        return max(step, self.chunk_weights // K // step * step)

    def weight_chunks(self, dtype: torch.dtype):
        """(r0, r1, W[r0:r1] (r1 - r0, K) in dtype) over the output rows; one chunk alive at a time."""
        q, K, rows = self.quantized, self.in_features, self.chunk_rows()
        for r0 in range(0, self.out_features, rows):
            r1 = min(self.out_features, r0 + rows)
            yield r0, r1, dequantize_nf4_range(q, r0 * K, r1 * K, dtype).view(r1 - r0, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # (..., K) -> (..., N)
        if x.shape[-1] != self.in_features:
            raise ValueError(f"input has {x.shape[-1]} features, the layer expects {self.in_features}")
        h = x.to(self.compute_dtype)
        y = _DequantMatmul.apply(h.reshape(-1, self.in_features), self)
        y = y.view(*x.shape[:-1], self.out_features)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"blocksize={self.blocksize}, double_quant={self.double_quant}, "
                f"compute_dtype={DTYPE_NAMES.get(self.compute_dtype, self.compute_dtype)}")


def nf4_layers(model: nn.Module) -> dict[str, NF4Linear]:
    """Every NF4Linear of the model by module name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, NF4Linear)}


@torch.no_grad()
def quantize_model(model: nn.Module, cfg: NF4Config = NF4Config()) -> list[str]:
    """Replace the nn.Linear layers named by cfg.targets with NF4Linear, in place; returns their names.

    Layers whose weight is shared (a tied LM head) are refused: quantising one name of a shared
    matrix would silently untie it."""
    if nf4_layers(model):
        raise LmlabError("the model is already quantised to NF4")
    names = [n for n in resolve_targets(model, cfg.targets, "NF4 target")
             if isinstance(model.get_submodule(n), nn.Linear)]
    if not names:
        raise LmlabError(f"no nn.Linear layer of this {type(model).__name__} matches {list(cfg.targets)}")
    owners: dict[int, list[str]] = {}
    for n, m in model.named_modules(remove_duplicate=False):
        if isinstance(getattr(m, "weight", None), torch.Tensor):
            owners.setdefault(id(m.weight), []).append(n)
    compute = DTYPES[cfg.compute_dtype] if cfg.compute_dtype else None
    for n in names:
        linear = model.get_submodule(n)
        if len(owners[id(linear.weight)]) > 1:
            raise LmlabError(f"'{n}' shares its weight with {' and '.join(owners[id(linear.weight)])} (tied "
                             "embeddings); leave it out of the NF4 targets")
        set_module(model, n, NF4Linear.from_linear(linear, cfg.blocksize, cfg.double_quant, compute,
                                                   cfg.chunk_weights))
    return names


@torch.no_grad()
def dequantize_model(model: nn.Module) -> list[str]:
    """Replace every NF4Linear with an nn.Linear holding its dequantised weight (in the dtype it was quantised
    from), in place; returns the names. The inverse of quantize_model up to NF4's rounding: the model then
    computes what it computed in NF4, and LoRA adapters on it can be merged (merge_lora). The new weights
    are ordinary (trainable) parameters: a plain model again."""
    names = list(nf4_layers(model))
    for n in names:
        q = model.get_submodule(n)
        linear = nn.Linear(q.in_features, q.out_features, bias=q.bias is not None, device=q.weight_packed.device,
                           dtype=q.weight_dtype)
        linear.weight.copy_(q.dequantized_weight(q.weight_dtype))
        if q.bias is not None:
            linear.bias.copy_(q.bias)
        set_module(model, n, linear)
    return names


def nf4_memory(model: nn.Module) -> dict[str, float]:
    """Bytes of the quantised layers' weights (codes + scales, not biases), their weight count, bits per weight."""
    layers = nf4_layers(model).values()
    nbytes = sum(m.quantized.nbytes for m in layers)
    n = sum(m.in_features * m.out_features for m in layers)
    return {"bytes": nbytes, "weights": n, "bits_per_weight": 8 * nbytes / n if n else 0.0}
