import pytest
import torch

from lmlab.nn.embeddings import RotaryEmbedding, sinusoidal_table


def test_sinusoidal_table_values():
    t = sinusoidal_table(10, 8)
    assert t[0, 0::2].abs().max() == 0 and t[0, 1::2].eq(1).all()
    assert t[3, 2].item() == pytest.approx(torch.sin(torch.tensor(3 / 10000 ** (2 / 8))).item(), abs=1e-6)


def test_rotary_scores_depend_only_on_the_distance():
    """RoPE's point: q_m · k_n is a function of m - n (Su et al. 2021, §3.2)."""
    torch.manual_seed(0)
    rope = RotaryEmbedding(head_dim=16, max_seq_len=64)
    q, k = torch.randn(16), torch.randn(16)
    def score(m, n):
        qm = rope(q.view(1, 1, 1, 16), torch.tensor([m]))
        kn = rope(k.view(1, 1, 1, 16), torch.tensor([n]))
        return (qm * kn).sum().item()
    assert score(5, 2) == pytest.approx(score(40, 37), abs=1e-4)
    assert score(5, 2) != pytest.approx(score(5, 3), abs=1e-3)
    # position 0 is the identity; per-row positions (B, T) work too
    x = torch.randn(2, 3, 4, 16)
    assert torch.equal(rope(x, torch.zeros(4, dtype=torch.long)), x)
    pos = torch.tensor([[0, 1, 2, 3], [5, 6, 7, 8]])
    assert torch.allclose(rope(x, pos)[1], rope(x[1:], torch.arange(5, 9))[0])


def test_rotary_equals_hugging_face_llama():
    transformers = pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb
    cfg = transformers.LlamaConfig(hidden_size=64, num_attention_heads=4, max_position_embeddings=32)
    hf = LlamaRotaryEmbedding(cfg)
    ours = RotaryEmbedding(head_dim=16, max_seq_len=32)
    q, k = torch.randn(2, 4, 10, 16), torch.randn(2, 4, 10, 16)
    pos = torch.arange(10).expand(2, 10)
    cos, sin = hf(q, pos)
    hq, hk = apply_rotary_pos_emb(q, k, cos, sin)
    assert (ours(q, pos) - hq).abs().max() <= 1e-6 and (ours(k, pos) - hk).abs().max() <= 1e-6
