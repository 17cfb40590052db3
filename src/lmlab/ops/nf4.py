"""NF4: 4-bit NormalFloat quantisation with block-wise absmax scaling and double quantisation.

Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs", §3 (notes 002, V.1).
Pure functions on tensors; the layout (codes, nibble order, scales) is bitsandbytes'
(`quantize_4bit(..., quant_type="nf4")`), so codes and dequantised values are identical to it
(tests/parity/test_bnb_nf4.py).

The 16 code values. Trained weights are roughly normal, so the best 4-bit grid puts equal
probability mass of N(0, 1) between neighbouring values: its values are quantiles. NF4 takes
8 quantiles for the positive half (probabilities from `offset` down to 0.5, evenly spaced: 9
points whose last is ppf(0.5) = 0) and 7 for the negative half (8 points), so that 0 is exactly
representable (padding, ReLU zeros) and all 16 codes are used; the union is divided by its
largest value to lie in [-1, 1]:

    positive  ppf(linspace(offset, 0.5, 9)[:-1])     8 values
    zero      0                                      1 value
    negative  -ppf(linspace(offset, 0.5, 8)[:-1])    7 values

`offset` = ½·((1 − 1/(2·15)) + (1 − 1/(2·16))) = 0.96770833…, halfway between the outermost
quantile probabilities of a 15- and a 16-value grid (ppf(1) would be infinite). bitsandbytes
uses it rounded to 0.9677083, with float32 probabilities and a float64 ppf; so does nf4_code,
which then reproduces bitsandbytes' table bit for bit.

Block-wise absmax scaling. The flattened weight is cut into blocks of `blocksize` (64) values;
each block is divided by its largest magnitude (its absmax, kept in fp32), so one outlier
spoils only its own block, and each value is replaced by the index of the nearest code value.
Two 4-bit indices share a byte, the first in the high nibble.

Double quantisation. The fp32 absmax costs 32/64 = 0.5 bits per weight. QLoRA quantises the
absmax values themselves: subtract their mean, quantise to 8 bits with bitsandbytes' signed
"dynamic" map (Dettmers 2015, "8-Bit Approximations for Parallelism in Deep Learning") in
blocks of 256, each with its own fp32 absmax (lmlab takes the nearest 8-bit code, as bitsandbytes'
CUDA kernel does; its CPU kernel rounds to a 65,536-step grid first and differs for ~0.2 % of the
scales, see tests/parity/test_bnb_nf4.py). Bits per weight, block 64:

    without:  4 + 32/64              = 4.5
    with:     4 + 8/64 + 32/(64·256) = 4.127   (+ one fp32 mean per tensor)

Dequantisation is a table look-up times the block's scale, in fp32, then cast to the wanted
dtype: w ≈ code[idx] · absmax[block].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from lmlab.errors import LmlabError

NF4_OFFSET = 0.9677083     # ½(1 − 1/30 + 1 − 1/32) = 0.96770833…, rounded as bitsandbytes rounds it
ABSMAX_BLOCKSIZE = 256     # double quantisation: absmax values per second-level block
FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def nf4_code(offset: float = NF4_OFFSET) -> Tensor:
    """The 16 NF4 values, sorted, in [-1, 1] (16,) fp32; construction in the module docstring."""
    ppf = lambda p: torch.special.ndtri(p.double())
    positive = ppf(torch.linspace(offset, 0.5, 9))[:-1]    # 8 values; the 9th is ppf(0.5) = 0
    negative = -ppf(torch.linspace(offset, 0.5, 8))[:-1]   # 7 values
    values = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).float().sort().values
    return values / values.max()


def dynamic_code() -> Tensor:
    """bitsandbytes' signed 8-bit dynamic map (256,) fp32, sorted, in [-1, 1].

    Dynamic exponent + fraction: for the exponents 10⁻⁶ … 10⁰ the fraction gets 1, 2, 4 … 64
    evenly spaced values in (0.1, 1] (bucket centres), mirrored for the sign; plus 0 and 1.
    Fine steps near zero, coarse ones near ±1: right for the (mean-centred) absmax values.
    """
    values = [0.0, 1.0]
    for i in range(7):
        edges = torch.linspace(0.1, 1, 2**i + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        values += (10 ** (i - 6) * centres).tolist() + (-(10 ** (i - 6)) * centres).tolist()
    return torch.tensor(sorted(values), dtype=torch.float32)


NF4_CODE = nf4_code()
NF4_BYTE_VALUES = torch.stack([NF4_CODE.repeat_interleave(16), NF4_CODE.repeat(16)], dim=1)  # (256, 2): a byte's
# two values (high nibble, low nibble): one look-up per byte instead of shifting, masking and two look-ups
INT4_CODE = torch.arange(-7, 8, dtype=torch.float32) / 7  # plain symmetric int4 absmax: round(7x/absmax)/7
DYNAMIC_CODE = dynamic_code()


def _check_blocksize(blocksize: int) -> None:
    if not isinstance(blocksize, int) or blocksize < 2 or blocksize % 2:
        raise LmlabError(f"the block size must be a positive even number of weights (e.g. 64), got {blocksize}")


def quantize_blockwise(x: Tensor, code: Tensor, blocksize: int) -> tuple[Tensor, Tensor]:
    """Absmax block quantisation to the nearest value of a sorted `code` (ties go to the lower value).

    x (...) float -> indices (n,) uint8 over the flattened x, absmax (ceil(n / blocksize),) fp32.
    The last block may be short. An all-zero block gets absmax 0 and the code nearest 0.
    """
    flat = x.reshape(-1).float()
    n = flat.numel()
    n_blocks = -(-n // blocksize)
    blocks = torch.nn.functional.pad(flat, (0, n_blocks * blocksize - n)).view(n_blocks, blocksize)
    absmax = blocks.abs().amax(dim=1)                                             # (n_blocks,)
    # multiply by the reciprocal, as bitsandbytes does (x / absmax can differ by one rounding)
    scaled = (blocks * (1.0 / absmax.clamp(min=1e-38)).unsqueeze(1)).clamp(-1, 1)
    midpoints = (code[:-1] + code[1:]) / 2                                        # decision boundaries
    idx = torch.bucketize(scaled.reshape(-1)[:n], midpoints.to(x.device))
    return idx.to(torch.uint8), absmax


def _scale_blocks(values: Tensor, absmax: Tensor, blocksize: int) -> Tensor:
    """values (n,) times the absmax of each one's block (the last block may be short) -> (n,) fp32."""
    n, short = values.numel(), absmax.numel() * blocksize - values.numel()
    if short:
        values = torch.nn.functional.pad(values, (0, short))
    return (values.view(absmax.numel(), blocksize) * absmax.unsqueeze(1)).view(-1)[:n]


def dequantize_blockwise(idx: Tensor, absmax: Tensor, code: Tensor, blocksize: int) -> Tensor:
    """The inverse: code[idx] · absmax of each value's block. idx (n,) -> (n,) fp32."""
    return _scale_blocks(code.to(idx.device).index_select(0, idx.int()), absmax, blocksize)


def pack_nibbles(idx: Tensor) -> Tensor:
    """Two 4-bit indices per byte, the first in the high nibble: (n,) uint8 -> (ceil(n / 2),) uint8."""
    if idx.numel() % 2:  # pad with the index of 0.0, as bitsandbytes does
        idx = torch.cat([idx, idx.new_full((1,), 7)])
    return (idx[0::2] << 4) | idx[1::2]


def unpack_nibbles(packed: Tensor, n: int) -> Tensor:
    """(m,) uint8 -> the first n 4-bit indices (n,) uint8."""
    return torch.stack([packed >> 4, packed & 0xF], dim=1).reshape(-1)[:n]


@dataclass(frozen=True)
class NF4Tensor:
    """A weight quantised to NF4: everything needed to rebuild it, nothing in full precision.

    packed (ceil(n / 2),) uint8 codes; absmax (n_blocks,) fp32 scales, or with double
    quantisation (n_blocks,) uint8 codes of (absmax − absmax_offset) in the dynamic map, scaled
    per 256 by absmax_scale (ceil(n_blocks / 256),) fp32; absmax_offset () fp32 is their mean.
    """

    packed: Tensor
    absmax: Tensor
    shape: tuple[int, ...]
    dtype: torch.dtype
    blocksize: int = 64
    absmax_scale: Tensor | None = None
    absmax_offset: Tensor | None = None

    @property
    def double_quant(self) -> bool:
        return self.absmax_scale is not None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of everything stored (codes, scales, double-quantisation constants)."""
        extra = [self.absmax_scale, self.absmax_offset] if self.double_quant else []
        return sum(t.numel() * t.element_size() for t in [self.packed, self.absmax, *extra])

    def scales(self, first_block: int = 0, end_block: int | None = None) -> Tensor:
        """The fp32 absmax of blocks [first_block, end_block), undoing double quantisation if used."""
        q = self.absmax[first_block:end_block]
        if not self.double_quant:
            return q
        blocks = torch.arange(first_block, first_block + q.numel(), device=q.device)
        second = self.absmax_scale[blocks // ABSMAX_BLOCKSIZE]
        return DYNAMIC_CODE.to(q.device).index_select(0, q.int()) * second + self.absmax_offset


def quantize_nf4(w: Tensor, blocksize: int = 64, double_quant: bool = False) -> NF4Tensor:
    """Quantise a float tensor to NF4, block-wise; with `double_quant` the scales go to 8 bits as well."""
    if not torch.is_floating_point(w) or w.dtype not in FLOAT_DTYPES:
        raise LmlabError(f"NF4 quantises fp32, bf16 or fp16 tensors, got {w.dtype}")
    if w.numel() == 0:
        raise LmlabError("cannot quantise an empty tensor")
    _check_blocksize(blocksize)
    idx, absmax = quantize_blockwise(w, NF4_CODE.to(w.device), blocksize)
    scale = offset = None
    if double_quant:
        offset = absmax.mean()
        absmax, scale = quantize_blockwise(absmax - offset, DYNAMIC_CODE.to(w.device), ABSMAX_BLOCKSIZE)
    return NF4Tensor(pack_nibbles(idx), absmax, tuple(w.shape), w.dtype, blocksize, scale, offset)


def dequantize_nf4_range(q: NF4Tensor, start: int, stop: int, dtype: torch.dtype | None = None) -> Tensor:
    """Flat elements [start, stop) of the weight, (stop − start,) in `dtype` (default: the original).

    `start` must begin a block; only the bytes and scales of the blocks touched are read, so a
    caller can rebuild a large weight piece by piece (NF4Linear's forward does).
    """
    if start % q.blocksize or not 0 <= start < stop <= q.numel:
        raise ValueError(f"range [{start}, {stop}) must start on a block boundary inside [0, {q.numel})")
    packed = q.packed[start // 2: -(-stop // 2)].int()
    values = NF4_BYTE_VALUES.to(packed.device).index_select(0, packed).view(-1)[: stop - start]
    scales = q.scales(start // q.blocksize, -(-stop // q.blocksize))
    return _scale_blocks(values, scales, q.blocksize).to(dtype or q.dtype)


def dequantize_nf4(q: NF4Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """The whole dequantised weight, in its original shape and `dtype` (default: the original)."""
    return dequantize_nf4_range(q, 0, q.numel, dtype).view(q.shape)


def bits_per_parameter(blocksize: int = 64, double_quant: bool = False, n: int | None = None) -> float:
    """Storage bits per weight: 4 + 32/blocksize, or 4 + 8/blocksize + 32/(256·blocksize) doubly
    quantised. With n (the number of weights) short last blocks and the fp32 mean are counted too."""
    if n is None:
        if double_quant:
            return 4 + 8 / blocksize + 32 / (ABSMAX_BLOCKSIZE * blocksize)
        return 4 + 32 / blocksize
    blocks = -(-n // blocksize)
    bits = 8 * -(-n // 2)
    bits += 8 * blocks + 32 * -(-blocks // ABSMAX_BLOCKSIZE) + 32 if double_quant else 32 * blocks
    return bits / n


def roundtrip_error(w: Tensor, code: Tensor = NF4_CODE, blocksize: int = 64) -> dict[str, float]:
    """Mean absolute and root-mean-square error of quantising w to `code` block-wise and back.

    code: NF4_CODE, INT4_CODE (plain int4 absmax) or any sorted grid in [-1, 1]."""
    idx, absmax = quantize_blockwise(w, code, blocksize)
    err = dequantize_blockwise(idx, absmax, code, blocksize) - w.reshape(-1).float()
    return {"mae": err.abs().mean().item(), "rmse": err.pow(2).mean().sqrt().item()}
