import pytest
import torch

from lmlab.nn.attention import MultiHeadAttention
from lmlab.nn.gqa import pool_kv_heads_


def test_pooled_gqa_equals_multi_head_with_averaged_heads():
    """GQA after pooling = the original MHA with each group's k/v heads replaced by their mean."""
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_model=32, n_heads=8, causal=True)
    x = torch.randn(2, 10, 32)
    averaged = MultiHeadAttention(d_model=32, n_heads=8, causal=True)
    averaged.load_state_dict(mha.state_dict())
    with torch.no_grad():
        for proj in (averaged.k_proj, averaged.v_proj):
            for t in (proj.weight, proj.bias):
                heads = t.view(2, 4, 4, *t.shape[1:])              # (H_kv, G, D, …)
                t.copy_(heads.mean(1, keepdim=True).expand_as(heads).reshape(t.shape))
    pool_kv_heads_(mha, 2)
    assert mha.k_proj.weight.shape == (2 * 4, 32) and mha.n_kv_heads == 2
    assert torch.allclose(mha(x), averaged(x), atol=1e-6)


def test_pool_refuses_bad_sizes():
    with pytest.raises(ValueError, match="divide"):
        pool_kv_heads_(MultiHeadAttention(d_model=32, n_heads=8), 3)
    gqa = MultiHeadAttention(d_model=32, n_heads=8, n_kv_heads=2)
    with pytest.raises(ValueError, match="multi-head"):
        pool_kv_heads_(gqa, 1)
