"""Pooling: mean over real tokens only, [CLS] = first real token, unit-length normalisation."""

import pytest
import torch

from lmlab.nn.pooling import cls_pool, l2_normalize, mean_pool, pool


def test_mean_pool_averages_real_tokens_and_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],
                           [[5.0, 6.0], [-1.0, 0.0], [0.0, 3.0]]])      # (B=2, T=3, C=2)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.equal(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0], [4 / 3, 3.0]]))


def test_mean_pool_of_a_padded_row_equals_the_row_alone():
    torch.manual_seed(0)
    x = torch.randn(1, 5, 8)
    padded = torch.cat([x, torch.randn(1, 3, 8)], dim=1)
    mask = torch.tensor([[1] * 5 + [0] * 3])
    torch.testing.assert_close(mean_pool(padded, mask), x.mean(dim=1))


def test_mean_pool_of_an_all_padding_row_is_zero_not_nan():
    assert torch.equal(mean_pool(torch.ones(1, 2, 3), torch.zeros(1, 2)), torch.zeros(1, 3))


def test_cls_pool_takes_the_first_real_token_right_or_left_padded():
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float).view(2, 3, 2)
    assert torch.equal(cls_pool(hidden), hidden[:, 0])
    right = torch.tensor([[1, 1, 0], [1, 1, 1]])
    left = torch.tensor([[0, 1, 1], [1, 1, 1]])
    assert torch.equal(cls_pool(hidden, right), hidden[:, 0])
    assert torch.equal(cls_pool(hidden, left), torch.stack([hidden[0, 1], hidden[1, 0]]))


def test_l2_normalize_gives_unit_vectors_and_keeps_zero():
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert torch.equal(l2_normalize(x), torch.tensor([[0.6, 0.8], [0.0, 0.0]]))


def test_pool_by_name():
    hidden, mask = torch.randn(2, 4, 3), torch.ones(2, 4)
    assert torch.equal(pool(hidden, mask, "cls"), hidden[:, 0])
    assert torch.equal(pool(hidden, mask, "mean"), mean_pool(hidden, mask))
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        pool(hidden, mask, "max")
