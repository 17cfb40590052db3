"""lmlab logits processors <-> Hugging Face's (transformers.generation.logits_process) on the same inputs.

Tolerance: the -inf positions must be identical, and the finite values equal to TOL = 1e-6 (max abs
difference; in practice they are bit-equal, both sides doing the same fp32 operations). The logits have 8
rows of V = 1000: plain, peaked, heavily tied, all tied, partly -inf already, tied favourites; input_ids
have repeats, a periodic row and left padding, so the penalties and n-gram bans have work to do.
"""

from __future__ import annotations

import inspect

import pytest
import torch

from lmlab.generate.processors import (
    MinP,
    NoRepeatNGram,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    apply_processors,
    build_processors,
)

transformers = pytest.importorskip("transformers")
from transformers.generation.logits_process import (  # noqa: E402
    LogitsProcessorList,
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

TOL = 1e-6
B, T, V, PAD = 8, 24, 1000, 0


def _logits(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, V, generator=g) * 2  # (B, V)
    x[1] *= 8  # peaked: a handful of tokens hold nearly all the mass, many have ~0 probability
    x[2] = torch.randint(-4, 4, (V,), generator=g).float()  # 8 levels: ties everywhere
    x[3] = 0.0  # uniform: every token tied
    x[4, ::3] = float("-inf")  # a third already removed
    x[5] = (x[5] * 2).round() / 2  # ties at many levels
    x[6, :5] = 10.0  # five tied favourites
    return x.to(dtype)


def _input_ids() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 40, (B, T), generator=g)  # (B, T) small id range: repeated tokens and bigrams
    ids[0] = torch.tensor([7, 8, 9, 10] * (T // 4))  # periodic: every n-gram repeats
    ids[1, :6] = PAD  # left padding
    ids[2, :11] = PAD
    ids[3, -6:] = torch.tensor([500, 501, 502, 500, 501, 502])
    ids[4, :3] = torch.tensor([0, 999, 998])  # the extreme ids
    return ids


def assert_same(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert torch.equal(torch.isneginf(ours), torch.isneginf(theirs))
    finite = torch.isfinite(theirs)
    assert torch.equal(torch.isfinite(ours), finite)
    assert (ours[finite].float() - theirs[finite].float()).abs().max().item() <= TOL


def _both(ours, theirs, logits=None, ids=None):
    """Run both processors on fresh copies of the same inputs and compare; return our output."""
    logits = _logits() if logits is None else logits
    ids = _input_ids() if ids is None else ids
    out = ours(ids.clone(), logits.clone())
    assert_same(out, theirs(ids.clone(), logits.clone()))
    return out


def _n_removed(out: torch.Tensor) -> int:
    return int(torch.isneginf(out).sum() - torch.isneginf(_logits(out.dtype)).sum())


@pytest.mark.parametrize("t", [0.05, 0.7, 1.0, 1.5, 100.0])
def test_temperature(t):
    _both(Temperature(t), TemperatureLogitsWarper(float(t)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("min_keep", [1, 3, 60])
@pytest.mark.parametrize("k", [1, 2, 5, 50, 999, 1000, 5000])
def test_top_k(k, min_keep, dtype):
    _both(TopK(k, min_keep), TopKLogitsWarper(k, min_tokens_to_keep=min_keep), _logits(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("min_keep", [1, 5, 60])
@pytest.mark.parametrize("p", [1e-9, 0.1, 0.5, 0.9, 0.95, 0.999, 1 - 1e-7, 1 - 1e-12, 1.0])
def test_top_p(p, min_keep, dtype):
    out = _both(TopP(p, min_keep), TopPLogitsWarper(p, min_tokens_to_keep=min_keep), _logits(dtype))
    if p <= 0.999:
        assert _n_removed(out) > 0  # the case is not vacuous


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("min_keep", [1, 5, 60, 995])  # 995: beyond the tokens whose probability is not 0
@pytest.mark.parametrize("p", [0.0, 1e-4, 0.01, 0.1, 0.5, 0.99, 1.0])
def test_min_p(p, min_keep, dtype):
    out = _both(MinP(p, min_keep), MinPLogitsWarper(p, min_tokens_to_keep=min_keep), _logits(dtype))
    if p > 0:
        assert _n_removed(out) > 0


@pytest.mark.parametrize("penalty", [0.5, 1.0, 1.2, 3.0])
def test_repetition_penalty(penalty):
    out = _both(RepetitionPenalty(penalty), RepetitionPenaltyLogitsProcessor(float(penalty)))
    assert (out != _logits()).sum() > 0 or penalty == 1.0


HAS_IGNORE = "prompt_ignore_length" in inspect.signature(RepetitionPenaltyLogitsProcessor).parameters


@pytest.mark.skipif(not HAS_IGNORE, reason="this transformers has no prompt_ignore_length")
@pytest.mark.parametrize("skip", [5, torch.tensor([0, 6, 11, 0, 3, 0, 0, 24])])
def test_repetition_penalty_ignoring_left_pads(skip):
    ours = RepetitionPenalty(1.5, prompt_ignore_length=skip)
    try:
        theirs = RepetitionPenaltyLogitsProcessor(1.5, prompt_ignore_length=skip)
    except ValueError:  # transformers before per-row lengths (e.g. 5.17) takes only an int
        pytest.skip("this transformers takes prompt_ignore_length as an int only")
    _both(ours, theirs)
    # the pad id is no longer penalised in the padded rows whose real tokens never use it
    ids = _input_ids()
    pad_used = (ids[:, 11:] == PAD).any(dim=1)
    if isinstance(skip, torch.Tensor) and not pad_used[2]:
        assert ours(ids, _logits())[2, PAD] == _logits()[2, PAD]


@pytest.mark.parametrize("n", [1, 2, 3, 4, T, T + 1])
def test_no_repeat_ngram(n):
    out = _both(NoRepeatNGram(n), NoRepeatNGramLogitsProcessor(n))
    if n <= 4:
        assert _n_removed(out) > 0


SETTINGS = [
    dict(temperature=0.7, top_k=50, top_p=0.9, min_p=0.05, repetition_penalty=1.3, no_repeat_ngram_size=3),
    dict(temperature=1.5, top_p=0.95, repetition_penalty=0.8),
    dict(temperature=0.3, top_k=1),
    dict(min_p=0.1, no_repeat_ngram_size=2),
    dict(top_k=5, top_p=1 - 1e-7, min_p=0.5, no_repeat_ngram_size=1),
    dict(temperature=0, top_k=50, top_p=0.5, repetition_penalty=1.2, no_repeat_ngram_size=2),  # greedy
    dict(),
]


def _full(s: dict) -> dict:
    return {**dict(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0,
                   no_repeat_ngram_size=0), **s}


def _hf_by_hand(s: dict) -> LogitsProcessorList:
    """HF's classes in the order _get_logits_processor appends them: penalties, then warpers when sampling."""
    s = _full(s)
    procs = LogitsProcessorList()
    if s["repetition_penalty"] != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(float(s["repetition_penalty"])))
    if s["no_repeat_ngram_size"] > 0:
        procs.append(NoRepeatNGramLogitsProcessor(s["no_repeat_ngram_size"]))
    if s["temperature"] > 0:
        if s["temperature"] != 1.0:
            procs.append(TemperatureLogitsWarper(float(s["temperature"])))
        if s["top_k"] > 0:
            procs.append(TopKLogitsWarper(s["top_k"]))
        if s["top_p"] < 1.0:
            procs.append(TopPLogitsWarper(s["top_p"]))
        if s["min_p"] > 0:
            procs.append(MinPLogitsWarper(s["min_p"]))
    return procs


@pytest.mark.parametrize("s", SETTINGS)
def test_pipeline_matches_hf_list(s):
    ours = build_processors(**s)
    assert len(ours) == len(_hf_by_hand(s))
    _both(lambda i, x: apply_processors(ours, i, x), _hf_by_hand(s))


@pytest.fixture(scope="module")
def tiny_hf_model():
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(n_embd=8, n_layer=1, n_head=2, n_positions=32, vocab_size=V, bos_token_id=1,
                     eos_token_id=1)
    return GPT2LMHeadModel(cfg).eval()


HF_NAME = {
    RepetitionPenalty: "RepetitionPenaltyLogitsProcessor", NoRepeatNGram: "NoRepeatNGramLogitsProcessor",
    Temperature: "TemperatureLogitsWarper", TopK: "TopKLogitsWarper", TopP: "TopPLogitsWarper",
    MinP: "MinPLogitsWarper",
}


@pytest.mark.parametrize("s", SETTINGS)
def test_pipeline_matches_what_generate_builds(s, tiny_hf_model):
    """The order is not only read from the source: ask generate()'s own (private) builder."""
    from transformers import GenerationConfig

    f = _full(s)
    sampling = f["temperature"] > 0
    gen_cfg = GenerationConfig(do_sample=sampling, temperature=f["temperature"] if sampling else 1.0,
                               top_k=f["top_k"], top_p=f["top_p"], min_p=f["min_p"] or None,
                               repetition_penalty=float(f["repetition_penalty"]),
                               no_repeat_ngram_size=f["no_repeat_ngram_size"])
    try:
        hf = tiny_hf_model._get_logits_processor(generation_config=gen_cfg, input_ids_seq_length=T,
                                                 logits_processor=LogitsProcessorList(), device="cpu",
                                                 model_kwargs={})
    except (AttributeError, TypeError) as e:  # private API: other transformers versions differ
        pytest.skip(f"transformers' _get_logits_processor not callable this way: {e}")
    ours = build_processors(**s)
    assert [type(p).__name__ for p in hf] == [HF_NAME[type(p)] for p in ours]
    _both(lambda i, x: apply_processors(ours, i, x), hf)
