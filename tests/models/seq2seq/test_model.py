"""The encoder-decoder Transformer: causality, cross-attention, masks, sharing, parameter counts, decoding."""

import dataclasses

import pytest
import torch

from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.seq2seq import Seq2SeqStepper, translate_ids
from lmlab.models.seq2seq import (
    PRESETS,
    PUBLISHED,
    Seq2SeqConfig,
    Seq2SeqTransformer,
    count_parameters,
    preset,
)

CFG = Seq2SeqConfig(vocab_size=50, d_model=32, n_heads=4, d_ff=64, n_encoder_layers=2, n_decoder_layers=2,
                    max_seq_len=32, dropout=0.0)


def model(**kw) -> Seq2SeqTransformer:
    torch.manual_seed(0)
    return Seq2SeqTransformer(dataclasses.replace(CFG, **kw)).eval()


@pytest.mark.parametrize("backend", ["sdpa", "naive", "flash", "bmm"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_cannot_see_future_target_tokens(backend, norm_first):
    m = model(norm_first=norm_first)
    src, tgt = torch.randint(1, 50, (2, 7)), torch.randint(1, 50, (2, 9))
    changed = tgt.clone()
    changed[:, 5:] = torch.randint(1, 50, (2, 4))
    with torch.no_grad():
        a, b = m(src, tgt, backend=backend), m(src, changed, backend=backend)
    assert torch.equal(a[:, :5], b[:, :5])                 # bit for bit before the change
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_changing_the_source_changes_every_output_position():
    m = model()
    src, tgt = torch.randint(1, 50, (1, 7)), torch.randint(1, 50, (1, 6))
    other = src.clone()
    other[0, -1] = (src[0, -1] + 1) % 50                    # only the last source token
    with torch.no_grad():
        a, b = m(src, tgt), m(other, tgt)
    assert ((a - b).abs().amax(-1) > 1e-4).all()             # cross-attention reads the whole source


def test_source_padding_is_invisible():
    m = model()
    src, tgt = torch.randint(1, 50, (1, 5)), torch.randint(1, 50, (1, 6))
    padded = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], 1)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    with torch.no_grad():
        torch.testing.assert_close(m(padded, tgt, src_mask=mask), m(src, tgt), atol=1e-5, rtol=1e-5)


def test_embedding_sharing_and_scaling():
    m = model()
    assert m.src_emb.weight is m.tgt_emb.weight is m.lm_head.weight       # all three: one matrix
    m2 = model(share_embeddings=False, tie_embeddings=False, tgt_vocab_size=40)
    assert m2.lm_head.weight.shape == (40, 32) and m2.tgt_emb.weight is not m2.src_emb.weight
    with pytest.raises(ValueError, match="joint vocabulary"):
        dataclasses.replace(CFG, tgt_vocab_size=40)
    ids = torch.tensor([[3]])
    x = m._embed(m.src_emb, ids)                                           # dropout 0: E·√d + PE(0)
    torch.testing.assert_close(x[0, 0], m.src_emb.weight[3] * 32 ** 0.5 + m.pos_emb.table[0])


@pytest.mark.parametrize("kw", [{}, {"norm_first": True}, {"share_embeddings": False, "tgt_vocab_size": 40},
                                {"share_embeddings": False, "tie_embeddings": False, "tgt_vocab_size": 40}])
def test_count_parameters_matches_the_built_model(kw):
    m = model(**kw)
    assert count_parameters(m.cfg) == m.num_parameters()


def test_presets_have_the_papers_sizes():
    base, big = preset("transformer-base"), preset("transformer-big")
    assert (base.d_model, base.d_ff, base.n_heads, base.n_encoder_layers, base.dropout) == (512, 2048, 8, 6, 0.1)
    assert (big.d_model, big.d_ff, big.n_heads, big.n_decoder_layers, big.dropout) == (1024, 4096, 16, 6, 0.3)
    assert count_parameters(base) == 63_082_496            # with a 37,000-token joint vocabulary
    assert count_parameters(big) == 214_245_376
    assert abs(count_parameters(base) / PUBLISHED["transformer-base"] - 1) < 0.03   # the paper: 65M
    assert abs(count_parameters(big) / PUBLISHED["transformer-big"] - 1) < 0.01     # the paper: 213M
    assert all(count_parameters(preset(n)) < 10e6 for n in PRESETS if n.startswith("transformer-") and
               n not in PUBLISHED)


def sources(n: int, seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, 50, (int(torch.randint(2, 9, (1,), generator=g)),), generator=g).tolist() + [0]
            for _ in range(n)]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_cached_and_uncached_translations_are_the_same(num_beams):
    m, src = model(), sources(5)
    cfg = GenerationConfig(temperature=0.0, max_new_tokens=12, num_beams=num_beams)
    cached = translate_ids(m, src, cfg)
    assert cached == translate_ids(m, src, dataclasses.replace(cfg, use_cache=False))
    assert any(len(c) > 3 for c in cached)                   # an untrained model rambles: many steps compared


def test_beam_size_one_is_greedy_and_batching_changes_nothing():
    m, src = model(), sources(6, seed=1)
    greedy = translate_ids(m, src, GenerationConfig(temperature=0.0, max_new_tokens=10))
    assert translate_ids(m, src, GenerationConfig(num_beams=1, temperature=0.0, max_new_tokens=10)) == greedy
    alone = [translate_ids(m, [s], GenerationConfig(temperature=0.0, max_new_tokens=10))[0] for s in src]
    assert alone == greedy                                   # right-padded sources: the mask hides the pads


def test_stepper_reuses_the_encoder_keys_and_values():
    m = model()
    ids = torch.randint(1, 50, (2, 5))
    st = Seq2SeqStepper(m, ids, None, use_cache=True, max_new_tokens=4)
    assert len(st.memory_kv) == CFG.n_decoder_layers and st.memory_kv[0][0].shape == (2, 4, 5, 8)
    calls = []
    hook = m.decoder[0].cross_attn.k_proj.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        st.prefill()
        st.step(torch.tensor([3, 4]))
    hook.remove()
    assert calls == []                                       # no projection of the encoder output per step
    assert st.cache.length == 2


def test_beam_search_reorders_every_cached_tensor():
    m = model()
    st = Seq2SeqStepper(m, torch.randint(1, 50, (2, 5)), torch.tensor([[True] * 5, [True] * 3 + [False] * 2]),
                        max_new_tokens=4)
    with torch.no_grad():
        st.prefill()
    st.reorder(torch.tensor([1, 1, 0]))
    assert st.ids.size(0) == st.memory.size(0) == st.src_mask.size(0) == st.memory_kv[0][0].size(0) == 3
    assert st.cache[0].k.size(0) == 3 and not st.src_mask[0, 4] and st.src_mask[2, 4]
