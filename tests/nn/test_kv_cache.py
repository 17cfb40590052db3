import pytest
import torch

from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn.kv_cache import KVCache, kv_bytes_per_token


def test_cache_appends_in_place_and_returns_everything_so_far():
    cache = KVCache(n_layers=2, batch=1, n_kv_heads=2, head_dim=4, max_len=8)
    buf = cache[0].k
    k1, v1 = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    k, v = cache[0].update(k1, v1)
    assert k.shape == (1, 2, 3, 4) and torch.equal(k, k1) and torch.equal(v, v1)
    k, _ = cache[0].update(torch.ones(1, 2, 1, 4), torch.ones(1, 2, 1, 4))
    assert k.shape == (1, 2, 4, 4) and cache[0].k is buf        # no re-allocation
    assert cache.length == 4 and cache[1].length == 0
    with pytest.raises(ValueError, match="full"):
        cache[0].update(torch.ones(1, 2, 5, 4), torch.ones(1, 2, 5, 4))


def test_gqa_cache_holds_only_the_kv_heads():
    cfgs = {h: GPTConfig(vocab_size=10, max_seq_len=16, d_model=32, n_heads=8, n_kv_heads=h, n_layers=3)
            for h in (8, 2, 1)}
    sizes = {h: GPT(c).new_cache(batch=1).nbytes for h, c in cfgs.items()}
    assert sizes[8] == 4 * sizes[2] == 8 * sizes[1]
    assert sizes[8] == kv_bytes_per_token(3, 8, 4, bytes_per_value=4) * 16  # fp32, 16 positions


def test_reorder_and_crop():
    cache = KVCache(n_layers=1, batch=3, n_kv_heads=1, head_dim=2, max_len=4)
    cache[0].update(torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2), torch.zeros(3, 1, 2, 2))
    cache.reorder(torch.tensor([2, 2, 0]))
    assert cache[0].k[:, 0, 0, 0].tolist() == [2.0, 2.0, 0.0]
    cache.crop(1)
    assert cache.length == 1


def test_published_cache_sizes():
    # GPT-2 small: 2 × 12 layers × 12 heads × 64 dims × 2 bytes = 36 KiB per token in bf16
    assert kv_bytes_per_token(12, 12, 64) == 36 * 1024
    # Llama 3 8B (GQA, 8 kv heads of 128): 128 KiB per token in bf16
    assert kv_bytes_per_token(32, 8, 128) == 128 * 1024
