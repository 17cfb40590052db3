"""ops/masks.py: the "may attend" rules, checked against small matrices written out by hand."""

from __future__ import annotations

import itertools

import pytest
import torch

from lmlab.ops.masks import AttentionMask, causal_mask, dense_mask


def M(rows: str) -> torch.Tensor:
    """'10100 11100' -> bool (rows, cols) matrix."""
    return torch.tensor([[c == "1" for c in r] for r in rows.split()])


def test_causal():
    assert torch.equal(causal_mask(5, 5), M("10000 11000 11100 11110 11111"))
    # two queries after three cached keys: they are positions 3 and 4
    assert torch.equal(causal_mask(2, 5), M("11110 11111"))
    assert torch.equal(dense_mask(2, 5, causal=True)[0, 0], causal_mask(2, 5))


def test_window_bidirectional_and_causal():
    # |i - j| < 2
    assert torch.equal(dense_mask(5, 5, window=2)[0, 0], M("11000 11100 01110 00111 00011"))
    # 0 <= i - j < 2 (Mistral)
    assert torch.equal(dense_mask(5, 5, window=2, causal=True)[0, 0], M("10000 11000 01100 00110 00011"))


def test_key_padding_left_padded():
    kpm = torch.tensor([[False, True, True, True, True]])  # key 0 is padding
    got = dense_mask(5, 5, causal=True, key_padding_mask=kpm)
    assert got.shape == (1, 1, 5, 5)
    assert torch.equal(got[0, 0], M("00000 01000 01100 01110 01111"))  # row 0 sees nothing


def test_global_token_with_causal_window_and_padding():
    g = torch.tensor([[False, False, True, False, False]])  # token 2 is global
    got = dense_mask(5, 5, causal=True, window=2, global_mask=g)[0, 0]
    # row 2 (global) sees every key; column 2 (global) is seen by every row; the rest is the causal band
    assert torch.equal(got, M("10100 11100 11111 00110 00111"))
    kpm = torch.tensor([[False, True, True, True, True]])  # padding still applies to global rows
    got = dense_mask(5, 5, causal=True, window=2, global_mask=g, key_padding_mask=kpm)[0, 0]
    assert torch.equal(got, M("00100 01100 01111 00110 00111"))


def test_dense_mask_and_offset():
    dense = M("11111 11111 11111 00000 11111")  # query 3 may see nothing
    got = dense_mask(5, 5, causal=True, mask=dense)[0, 0]
    assert torch.equal(got, M("10000 11000 11100 00000 11111"))
    # q_offset -1: query 0 sits before every key
    assert torch.equal(dense_mask(3, 3, causal=True, q_offset=-1)[0, 0], M("000 100 110"))
    # per-batch, per-head dense mask keeps its shape
    per_head = torch.rand(2, 3, 4, 6) > 0.5
    assert torch.equal(dense_mask(4, 6, mask=per_head), per_head)


def test_batched_padding_shape():
    kpm = torch.tensor([[True, True, False], [True, True, True]])
    got = dense_mask(3, 3, key_padding_mask=kpm)
    assert got.shape == (2, 1, 3, 3)
    assert torch.equal(got[0, 0], M("110 110 110"))
    assert got[1].all()


def test_build_drops_constraints_that_exclude_nothing():
    assert AttentionMask.build(1, 9, causal=True).is_unconstrained        # one decoding query sees its cache
    assert AttentionMask.build(6, 6, window=6).is_unconstrained           # |i - j| <= 5 < 6
    assert not AttentionMask.build(6, 6, window=5).is_unconstrained
    assert AttentionMask.build(6, 6, causal=True, window=6).is_plain_causal
    assert not AttentionMask.build(6, 6, causal=True, window=5).is_plain_causal
    assert not AttentionMask.build(4, 6, causal=True).is_plain_causal     # offset 2: not SDPA's is_causal
    g = torch.ones(1, 6, dtype=torch.bool)
    assert AttentionMask.build(6, 6, global_mask=g).global_mask is None   # nothing for it to override


def test_build_rejects_misuse():
    g = torch.zeros(1, 6, dtype=torch.bool)
    with pytest.raises(ValueError, match="self-attention"):
        AttentionMask.build(4, 6, window=2, global_mask=g)
    with pytest.raises(ValueError, match="self-attention"):
        AttentionMask.build(6, 6, window=2, global_mask=g, q_offset=1)
    with pytest.raises(ValueError, match="window"):
        AttentionMask.build(6, 6, window=0)
    with pytest.raises(ValueError, match="bool"):
        AttentionMask.build(6, 6, mask=torch.zeros(6, 6))
    with pytest.raises(ValueError, match="broadcast"):
        AttentionMask.build(6, 6, mask=torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="shape"):
        AttentionMask.build(6, 6, key_padding_mask=torch.ones(2, 5, dtype=torch.bool), batch=2)


@pytest.mark.parametrize("causal,window,q_offset", list(itertools.product(
    [False, True], [None, 1, 3, 7], [None, -3, 0, 5])))
def test_visible_rows_is_exactly_the_rows_with_a_visible_key(causal, window, q_offset):
    spec = AttentionMask.build(11, 13, causal=causal, window=window, q_offset=q_offset)
    full = spec.dense()
    for c0, c1 in [(0, 4), (4, 8), (8, 12), (12, 13), (3, 9)]:
        lo, hi = spec.visible_rows(c0, c1)
        want = torch.ones(11, dtype=torch.bool) if full is None else full[0, 0, :, c0:c1].any(-1)
        got = torch.zeros(11, dtype=torch.bool)
        got[lo:hi] = True
        assert torch.equal(got, want), (c0, c1, lo, hi)


def test_tile_matches_dense_for_slices_and_index_rows():
    g = torch.tensor([[0, 1, 0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 0, 0, 0, 0]], dtype=torch.bool)
    kpm = torch.ones(2, 9, dtype=torch.bool)
    kpm[1, :2] = False
    dense = torch.rand(2, 3, 9, 9) > 0.2
    spec = AttentionMask.build(9, 9, causal=True, window=3, global_mask=g, key_padding_mask=kpm, mask=dense)
    full = spec.dense()
    rows = torch.tensor([0, 4, 7])
    assert torch.equal(spec.tile(slice(2, 6), slice(3, 9)), full[:, :, 2:6, 3:9])
    assert torch.equal(spec.tile(rows, slice(1, 5)), full[:, :, rows, 1:5])
