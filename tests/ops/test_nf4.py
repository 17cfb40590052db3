"""lmlab.ops.nf4 from its definitions (bitsandbytes parity: tests/parity/test_bnb_nf4.py)."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.errors import LmlabError
from lmlab.ops import nf4

# The NF4 table as published in the QLoRA paper's appendix E and hard-coded in bitsandbytes.
PUBLISHED_NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                 -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                 0.7229568362236023, 1.0]


def test_nf4_code_is_the_published_table_bit_for_bit():
    code = nf4.nf4_code()
    assert torch.equal(code, torch.tensor(PUBLISHED_NF4, dtype=torch.float32))
    assert (code > 0).sum() == 8 and (code < 0).sum() == 7 and (code == 0).sum() == 1  # asymmetric, exact 0
    assert abs(nf4.NF4_OFFSET - 0.5 * ((1 - 1 / 30) + (1 - 1 / 32))) < 1e-7


def test_nf4_values_are_equal_probability_quantiles_of_the_normal():
    """Between neighbouring positive values (before normalising) lies the same mass of N(0, 1)."""
    z = torch.special.ndtri(torch.tensor(nf4.NF4_OFFSET, dtype=torch.float64))
    positive = nf4.nf4_code()[8:].double() * z                # back to standard deviations
    mass = torch.special.ndtr(positive).diff()
    assert torch.allclose(mass, mass[0].expand_as(mass), rtol=1e-5)


def test_dynamic_code_has_256_sorted_values_from_minus_1_to_1_with_zero():
    code = nf4.DYNAMIC_CODE
    assert code.numel() == 256 and torch.all(code.diff() > 0)
    assert code[-1] == 1.0 and (code == 0).sum() == 1 and -1 < code[0] < -0.99
    assert code[code > 0].min() < 1e-6  # fine steps near zero: the dynamic exponent


def test_nibbles_pack_first_value_high_and_round_trip():
    idx = torch.tensor([1, 2, 15, 0, 7], dtype=torch.uint8)
    packed = nf4.pack_nibbles(idx)
    assert packed.tolist() == [0x12, 0xF0, 0x77]          # odd length: padded with the code of 0.0
    assert torch.equal(nf4.unpack_nibbles(packed, 5), idx)


def test_quantize_picks_the_nearest_code_and_the_block_absmax():
    w = torch.randn(10, 70)
    idx, absmax = nf4.quantize_blockwise(w, nf4.NF4_CODE, 64)
    flat = w.reshape(-1)
    expected_absmax = torch.stack([flat[i:i + 64].abs().max() for i in range(0, 700, 64)])  # last block short
    assert torch.equal(absmax, expected_absmax)
    scaled = flat / absmax.repeat_interleave(64)[:700]
    nearest = (scaled[:, None] - nf4.NF4_CODE).abs().argmin(dim=1)
    assert torch.equal(idx.long(), nearest)


def test_dequantize_error_is_at_most_half_a_gap_and_zero_and_extremes_are_exact():
    w = torch.randn(32, 64)
    w[0, :5] = 0.0
    q = nf4.quantize_nf4(w, 64)
    d = nf4.dequantize_nf4(q)
    assert d.shape == w.shape and d.dtype == w.dtype
    half_gap = nf4.NF4_CODE.diff().max() / 2
    assert torch.all((d - w).abs() <= half_gap * q.absmax.repeat_interleave(64).view(32, 64) + 1e-7)
    assert torch.all(d[0, :5] == 0)
    i = w.abs().argmax()
    assert d.reshape(-1)[i] == w.reshape(-1)[i]   # ±absmax is ±1 · absmax exactly


def test_double_quant_keeps_the_scales_close_and_the_weights_nearly_the_same():
    w = torch.randn(512, 256) * 0.02
    single, double = nf4.quantize_nf4(w, 64), nf4.quantize_nf4(w, 64, double_quant=True)
    assert double.absmax.dtype == torch.uint8 and double.absmax_scale.numel() == math.ceil(2048 / 256)
    assert torch.equal(single.packed, double.packed)                   # the 4-bit codes do not change
    rel = (double.scales() - single.absmax).abs() / single.absmax
    assert rel.max() < 0.01
    err1 = (nf4.dequantize_nf4(single) - w).pow(2).mean()
    err2 = (nf4.dequantize_nf4(double) - w).pow(2).mean()
    assert err2 < 1.01 * err1


def test_bits_per_parameter_is_4_5_and_4_127():
    assert nf4.bits_per_parameter(64) == 4.5
    assert nf4.bits_per_parameter(64, double_quant=True) == pytest.approx(4.127, abs=5e-4)  # 4.126953125
    for dq in (False, True):
        q = nf4.quantize_nf4(torch.randn(256, 1024), 64, double_quant=dq)
        measured = 8 * q.nbytes / q.numel
        assert measured == nf4.bits_per_parameter(64, dq, n=q.numel)
        assert measured == pytest.approx(nf4.bits_per_parameter(64, dq), abs=1e-3)  # + the fp32 mean


@pytest.mark.parametrize("double_quant", [False, True])
def test_a_range_dequantises_as_the_same_slice_of_the_whole(double_quant):
    q = nf4.quantize_nf4(torch.randn(300, 96), 64, double_quant)
    whole = nf4.dequantize_nf4(q).reshape(-1)
    for start, stop in [(0, 64), (128, 1000), (64 * 100, 300 * 96), (64 * 256, 64 * 300 + 3)]:
        assert torch.equal(nf4.dequantize_nf4_range(q, start, stop), whole[start:stop])
    with pytest.raises(ValueError):
        nf4.dequantize_nf4_range(q, 3, 100)


def test_bf16_weights_come_back_in_bf16():
    w = torch.randn(16, 64, dtype=torch.bfloat16)
    q = nf4.quantize_nf4(w)
    assert nf4.dequantize_nf4(q).dtype == torch.bfloat16
    assert nf4.dequantize_nf4(q, torch.float32).dtype == torch.float32


def test_nf4_beats_plain_int4_on_normal_weights():
    w = torch.randn(1024, 1024) * 0.02
    e_nf4, e_int4 = nf4.roundtrip_error(w, nf4.NF4_CODE), nf4.roundtrip_error(w, nf4.INT4_CODE)
    assert e_nf4["mae"] < 0.9 * e_int4["mae"] and e_nf4["rmse"] < e_int4["rmse"]


def test_bad_input_is_refused_clearly():
    with pytest.raises(LmlabError, match="block size"):
        nf4.quantize_nf4(torch.randn(8, 8), blocksize=63)
    with pytest.raises(LmlabError, match="fp32, bf16 or fp16"):
        nf4.quantize_nf4(torch.ones(8, 8, dtype=torch.int64))
    with pytest.raises(LmlabError, match="empty"):
        nf4.quantize_nf4(torch.zeros(0, 8))
