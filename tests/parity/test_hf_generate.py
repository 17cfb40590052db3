"""lmlab's decoding engine against Hugging Face `generate()` on the same GPT-2 weights.

The models are built from a small GPT2Config with random weights and moved across with lmlab's
own importer. Token sequences must be identical: greedy and beam search are deterministic, and
sampling draws from the global RNG exactly once per step in both, so the same seed gives the
same draws when the processed distributions agree.
"""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from lmlab.generate.decoding import GenerationConfig  # noqa: E402
from lmlab.generate.text import generate_ids  # noqa: E402
from lmlab.io.hf_gpt2 import load_hf_gpt2  # noqa: E402

V = 97


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=64, n_embd=48, n_layer=2, n_head=4,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager")
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    # a sharper output layer, so sampling and beams are not decided by near-ties of a flat distribution
    with torch.no_grad():
        hf.transformer.wte.weight.mul_(8)
    path = tmp_path_factory.mktemp("gpt2")
    hf.save_pretrained(path)
    return hf, load_hf_gpt2(path).eval()


PROMPTS = [[5, 17, 3, 44, 9, 12, 60], [7, 8], [30, 31, 32, 33]]


def hf_generate(hf, prompts, pad=0, **kw):
    T = max(map(len, prompts))
    ids = torch.tensor([[pad] * (T - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (T - len(p)) + [1] * len(p) for p in prompts])
    out = hf.generate(ids, attention_mask=mask, pad_token_id=pad, **kw)
    return [row[T:].tolist() for row in out]


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_left_padded_batch_equals_hf(pair, use_cache):
    hf, ours = pair
    want = hf_generate(hf, PROMPTS, do_sample=False, max_new_tokens=20)
    got = generate_ids(ours, PROMPTS, GenerationConfig(max_new_tokens=20, temperature=0, use_cache=use_cache))
    assert got == want


def test_penalties_equal_hf(pair):
    hf, ours = pair
    kw = dict(repetition_penalty=1.3, no_repeat_ngram_size=2)
    want = hf_generate(hf, PROMPTS, do_sample=False, max_new_tokens=20, **kw)
    got = generate_ids(ours, PROMPTS, GenerationConfig(max_new_tokens=20, temperature=0, **kw))
    assert got == want


def test_sampling_with_the_same_seed_equals_hf(pair):
    hf, ours = pair
    kw = dict(temperature=0.9, top_k=20, top_p=0.9)
    torch.manual_seed(123)
    want = hf_generate(hf, PROMPTS, do_sample=True, max_new_tokens=20, **kw)
    torch.manual_seed(123)
    got = generate_ids(ours, PROMPTS, GenerationConfig(max_new_tokens=20, **kw))
    assert got == want


@pytest.mark.parametrize("length_penalty", [1.0, 0.5])
def test_beam_search_equals_hf(pair, length_penalty):
    hf, ours = pair
    # an EOS the model does produce, so some beams finish early and the length penalty matters
    greedy = generate_ids(ours, PROMPTS, GenerationConfig(max_new_tokens=12, temperature=0))
    eos = greedy[0][3]
    want = hf_generate(hf, PROMPTS, do_sample=False, num_beams=4, max_new_tokens=12, eos_token_id=eos,
                       length_penalty=length_penalty)
    got = generate_ids(ours, PROMPTS, GenerationConfig(max_new_tokens=12, num_beams=4, eos_id=eos,
                                                       length_penalty=length_penalty))
    assert any(eos in w for w in want)                      # the test exercises finished beams
    assert got == [w[:w.index(eos)] if eos in w else w for w in want]  # lmlab drops the EOS, HF pads after it
