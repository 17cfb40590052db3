"""The decoding engine: cached = uncached, batching with left padding, beam search basics."""

import pytest
import torch

from lmlab.generate.decoding import (
    GenerationConfig,
    LMStepper,
    beam_search,
    decode,
    left_pad,
    positions_from_mask,
)
from lmlab.generate.text import generate_ids
from lmlab.models.gpt import GPT, GPTConfig

V = 50


def model_for(n_kv_heads=0, backend="sdpa", **kw):
    torch.manual_seed(0)
    kw = {"tie_embeddings": False, **kw}
    cfg = GPTConfig(vocab_size=V, max_seq_len=48, d_model=32, n_heads=4, n_kv_heads=n_kv_heads, n_layers=2,
                    attn_backend=backend, **kw)
    model = GPT(cfg).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20)  # a peaked output distribution: no near-ties decided by rounding
    return model


def tokens(model, prompt, cfg, seed=None):
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    stepper = LMStepper(model, torch.tensor([prompt]), None, cfg.use_cache, cfg.max_new_tokens)
    return [int(s.tokens[0]) for s in decode(stepper, cfg, gen)]


KINDS = {"MHA": 0, "GQA": 2, "MQA": 1}


@pytest.mark.parametrize("backend", ["naive", "flash", "bmm", "sdpa"])
@pytest.mark.parametrize("kind", KINDS)
def test_cached_equals_uncached_greedy_and_sampled(kind, backend):
    model = model_for(KINDS[kind], backend)
    prompt = [3, 1, 4, 1, 5, 9, 2, 6]
    for temperature, seed in ((0, None), (1.0, 7)):
        cached = tokens(model, prompt, GenerationConfig(max_new_tokens=30, temperature=temperature), seed)
        uncached = tokens(model, prompt, GenerationConfig(max_new_tokens=30, temperature=temperature,
                                                          use_cache=False), seed)
        assert cached == uncached
    assert len(set(cached)) > 3  # the sampled text is not a repetition of one token


def test_llama_style_cached_equals_uncached():
    model = model_for(2, pos_embedding="rotary", norm="rmsnorm", activation="swiglu", bias=False,
                      tie_embeddings=False)
    cfg = GenerationConfig(max_new_tokens=25, temperature=0)
    assert tokens(model, [1, 2, 3], cfg) == tokens(model, [1, 2, 3], GenerationConfig(max_new_tokens=25,
                                                                                      temperature=0, use_cache=False))


def test_generation_continues_past_the_context():
    model = model_for()
    cfg = GenerationConfig(max_new_tokens=70, temperature=0)  # 5 + 70 > 48 positions
    cached = tokens(model, [1, 2, 3, 4, 5], cfg)
    assert len(cached) == 70
    assert cached == tokens(model, [1, 2, 3, 4, 5], GenerationConfig(max_new_tokens=70, temperature=0,
                                                                      use_cache=False))


def test_left_padding_and_positions():
    ids, mask = left_pad([[7, 8, 9], [5]], pad_id=0)
    assert ids.tolist() == [[7, 8, 9], [0, 0, 5]]
    assert mask.tolist() == [[True, True, True], [False, False, True]]
    assert positions_from_mask(mask).tolist() == [[0, 1, 2], [0, 0, 0]]


@pytest.mark.parametrize("kw", [{}, dict(pos_embedding="rotary", norm="rmsnorm", activation="swiglu")])
def test_a_padded_row_gives_what_the_prompt_gives_alone(kw):
    model = model_for(2, **kw)
    prompts = [[3, 1, 4, 1, 5, 9], [2, 7], [1, 8, 2, 8]]
    cfg = GenerationConfig(max_new_tokens=15, temperature=0)
    batch = generate_ids(model, prompts, cfg)
    assert batch == [generate_ids(model, [p], cfg)[0] for p in prompts]


def test_beam_size_one_is_greedy():
    model = model_for()
    stepper = LMStepper(model, torch.tensor([[3, 1, 4]]), None, True, 20)
    beams = beam_search(stepper, GenerationConfig(max_new_tokens=20, num_beams=1))
    assert beams.sequences[0] == tokens(model, [3, 1, 4], GenerationConfig(max_new_tokens=20, temperature=0))


def test_beam_search_finds_a_sequence_at_least_as_likely_as_greedy():
    model = model_for()

    def logprob(seq):
        ids = torch.tensor([[3, 1, 4] + seq])
        logp = torch.log_softmax(model(ids)[0, 2:-1].float(), dim=-1)
        return logp.gather(1, torch.tensor(seq)[:, None]).sum().item()

    greedy = tokens(model, [3, 1, 4], GenerationConfig(max_new_tokens=12, temperature=0))
    stepper = LMStepper(model, torch.tensor([[3, 1, 4]]), None, True, 12)
    beam = beam_search(stepper, GenerationConfig(max_new_tokens=12, num_beams=5, length_penalty=0.0))
    assert logprob(beam.sequences[0]) >= logprob(greedy) - 1e-5
    assert beam.scores[0] == pytest.approx(logprob(beam.sequences[0]), abs=1e-4)


def test_cached_beam_search_equals_uncached():
    model = model_for(1)
    run = lambda cache: generate_ids(model, [[3, 1, 4], [9, 9]], GenerationConfig(
        max_new_tokens=15, num_beams=3, use_cache=cache))
    assert run(True) == run(False)


def test_invalid_settings_are_refused():
    for bad in (dict(num_beams=0), dict(top_p=0.0), dict(max_new_tokens=-1), dict(temperature=-1.0)):
        with pytest.raises(ValueError):
            GenerationConfig(**bad)
