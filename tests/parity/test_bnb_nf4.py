"""lmlab.ops.nf4 vs bitsandbytes' `quantize_4bit(..., quant_type="nf4")` / `dequantize_4bit`, CPU backend.

Identical, byte for byte and bit for bit: the NF4 table and the dynamic 8-bit map; the packed
4-bit codes (nibble order included) and fp32 absmax of every block; the dequantised weights in
fp32, bf16 and fp16; with double quantisation the mean and the second-level scales, and the
dequantisation of one stored state by either library.

One documented difference. To quantise the absmax values to 8 bits, bitsandbytes' CPU kernel does
not search the code for the nearest value: it rounds the normalised value to a grid of 65,536 steps
on [-1, 1] and looks the grid point up in a table (bitsandbytes csrc/cpu_ops.cpp, build_quantize_lut;
emulated below and checked to be exactly what it does). Near zero the dynamic map is finer than
that grid, so for ~0.2 % of the scales it picks a neighbour of the nearest value. lmlab picks the
nearest value, as bitsandbytes' CUDA kernel and its pure-PyTorch backend do; the test shows that
these are the only codes that differ and that lmlab's are the nearer ones.
"""

from __future__ import annotations

import pytest
import torch

from lmlab.ops import nf4

bnb = pytest.importorskip("bitsandbytes.functional", reason="bitsandbytes is in the test extras")

SHAPES = [(64, 128), (96, 200), (33, 70), (5, 13), (1000,), (300, 257)]   # short last blocks, odd widths


@pytest.fixture(autouse=True)
def _eager():
    """bitsandbytes wraps its generic dequantiser (odd widths) in torch.compile: seconds per shape on a
    CPU; eager mode runs the same arithmetic."""
    with torch._dynamo.config.patch(disable=True):
        yield


def _weights(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * 0.02).to(dtype)


def _bnb_state_from(q: nf4.NF4Tensor):
    """bitsandbytes' QuantState for an lmlab NF4Tensor (the same layout, so no conversion)."""
    from bitsandbytes.functional import QuantState
    state2 = None
    if q.double_quant:
        state2 = QuantState(absmax=q.absmax_scale, code=bnb.create_dynamic_map(), blocksize=256, dtype=torch.float32)
    return QuantState(absmax=q.absmax, shape=torch.Size(q.shape), dtype=q.dtype, blocksize=q.blocksize,
                      code=bnb.get_4bit_type("nf4", device="cpu"), quant_type="nf4",
                      offset=q.absmax_offset, state2=state2)


def _cpu_lut_quantize(x: torch.Tensor, code: torch.Tensor, blocksize: int) -> torch.Tensor:
    """bitsandbytes' CPU 8-bit blockwise quantiser: normalise, round to one of 65,536 grid points on
    [-1, 1], take the code nearest that grid point; an all-zero block gets code 0."""
    mids = 0.5 * (code[:-1] + code[1:])
    lut = torch.bucketize(-1.0 + (2.0 * torch.arange(65536, dtype=torch.float32)) / 65535, mids)
    n, nb = x.numel(), -(-x.numel() // blocksize)
    blocks = torch.nn.functional.pad(x, (0, nb * blocksize - n)).view(nb, blocksize)
    absmax = blocks.abs().amax(dim=1, keepdim=True)
    grid = (((blocks * (1.0 / absmax)).clamp(-1, 1) + 1.0) * 0.5 * 65535 + 0.5).long().clamp(0, 65535)
    out = torch.where(absmax == 0, 0, lut[grid])
    return out.reshape(-1)[:n].to(torch.uint8)


def test_code_tables_are_identical():
    assert torch.equal(nf4.NF4_CODE, bnb.get_4bit_type("nf4", device="cpu"))
    assert torch.equal(nf4.nf4_code(), torch.unique(bnb.create_normal_map()))  # its construction (scipy's ppf)
    assert torch.equal(nf4.DYNAMIC_CODE, bnb.create_dynamic_map())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("blocksize", [64, 128])
def test_codes_scales_and_dequantised_values_are_identical(blocksize, dtype):
    for i, shape in enumerate(SHAPES):
        w = _weights(shape, dtype, seed=i)
        packed, state = bnb.quantize_4bit(w, blocksize=blocksize, quant_type="nf4")
        q = nf4.quantize_nf4(w, blocksize)
        assert torch.equal(q.packed, packed.reshape(-1)), shape
        assert torch.equal(q.absmax, state.absmax), shape
        ours, theirs = nf4.dequantize_nf4(q), bnb.dequantize_4bit(packed, state)
        theirs = theirs.view(-1) if len(shape) == 1 else theirs   # its CPU kernel returns a 1-d tensor as (1, n)
        assert ours.dtype == theirs.dtype == dtype and ours.shape == theirs.shape
        assert torch.equal(ours, theirs), shape


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("blocksize", [64, 128])
def test_double_quantisation_matches_but_for_the_cpu_kernels_grid_rounding(blocksize, dtype):
    code, differing, total = nf4.DYNAMIC_CODE, 0, 0
    for i, shape in enumerate([(512, 256), (300, 257), (96, 200), (1024, 130)]):
        w = _weights(shape, dtype, seed=10 + i)
        packed, state = bnb.quantize_4bit(w, blocksize=blocksize, quant_type="nf4", compress_statistics=True)
        q = nf4.quantize_nf4(w, blocksize, double_quant=True)
        assert torch.equal(q.packed, packed.reshape(-1))
        assert torch.equal(q.absmax_offset, state.offset)                      # the mean of the absmaxes
        assert torch.equal(q.absmax_scale, state.state2.absmax)                # one fp32 per 256 absmaxes

        # The 8-bit absmax codes: bitsandbytes' are its grid look-up's (or, in a version that searches
        # the code, the nearest values); ours are the nearest values.
        centred = nf4.quantize_nf4(w, blocksize).absmax - q.absmax_offset
        assert torch.equal(state.absmax, _cpu_lut_quantize(centred, code, 256)) or torch.equal(state.absmax, q.absmax)
        v = centred / q.absmax_scale.repeat_interleave(256)[: centred.numel()]
        ours_dist, theirs_dist = (code[q.absmax.long()] - v).abs(), (code[state.absmax.long()] - v).abs()
        assert torch.all(ours_dist <= theirs_dist)
        differ = q.absmax != state.absmax
        assert torch.all(ours_dist[differ] < theirs_dist[differ])
        differing, total = differing + int(differ.sum()), total + differ.numel()

        # Dequantising one stored state: identical whichever library does it.
        assert torch.equal(nf4.dequantize_nf4(q), bnb.dequantize_4bit(q.packed.view(-1, 1), _bnb_state_from(q)))
        theirs_as_ours = nf4.NF4Tensor(packed.reshape(-1), state.absmax, tuple(w.shape), dtype, blocksize,
                                       state.state2.absmax, state.offset)
        assert torch.equal(nf4.dequantize_nf4(theirs_as_ours), bnb.dequantize_4bit(packed, state))
    assert differing / total < 0.01, (differing, total)


def test_nf4_round_trip_error_is_bitsandbytes_and_below_plain_int4():
    w = _weights((1024, 1024), torch.float32)
    packed, state = bnb.quantize_4bit(w, blocksize=64, quant_type="nf4")
    bnb_mse = (bnb.dequantize_4bit(packed, state) - w).pow(2).mean().item()
    ours = nf4.roundtrip_error(w, nf4.NF4_CODE, 64)
    assert ours["rmse"] ** 2 == pytest.approx(bnb_mse, rel=1e-6)
    assert ours["rmse"] < 0.9 * nf4.roundtrip_error(w, nf4.INT4_CODE, 64)["rmse"]
