"""Logits processors on hand-made inputs: which tokens survive, penalty arithmetic, validation, build order.

Kept/removed sets are compared exactly; penalised values with torch.equal (they are one multiply or divide
by a power of two, so exact in fp32).
"""

from __future__ import annotations

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

IDS = torch.zeros(1, 1, dtype=torch.long)  # input_ids the warpers ignore
PROBS = torch.tensor([[0.5, 0.3, 0.15, 0.05]])


def kept(processor, logits, ids=IDS) -> list[list[bool]]:
    return torch.isfinite(processor(ids, logits)).tolist()


@pytest.mark.parametrize("p, n_kept", [(0.3, 1), (0.5, 1), (0.6, 2), (0.8, 2), (0.81, 3), (0.95, 3),
                                       (0.96, 4), (1.0, 4)])
def test_top_p_keeps_smallest_set_reaching_p(p, n_kept):
    assert kept(TopP(p), PROBS.log()) == [[i < n_kept for i in range(4)]]


def test_top_p_unsorted_row_min_tokens_and_batch():
    logits = torch.tensor([[0.15, 0.05, 0.5, 0.3],     # same distribution, shuffled
                           [0.25, 0.25, 0.25, 0.25]]).log()
    assert kept(TopP(0.8), logits) == [[False, False, True, True], [True, True, True, True]]
    assert kept(TopP(0.5, min_tokens_to_keep=3), logits)[0] == [True, False, True, True]
    assert kept(TopP(0.1, min_tokens_to_keep=2), logits)[1].count(True) == 2  # 2 of 4 tied tokens
    out = TopP(0.8)(IDS, logits)
    assert torch.equal(out[torch.isfinite(out)], logits[torch.isfinite(out)])  # survivors untouched


def test_top_k_keeps_k_and_ties_at_the_kth_value():
    x = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert kept(TopK(2), x) == [[False, True, True, False]]
    assert kept(TopK(1), x) == [[False, True, False, False]]
    assert kept(TopK(10), x) == [[True] * 4]  # k > V keeps all
    assert kept(TopK(1, min_tokens_to_keep=3), x) == [[True, True, True, False]]
    assert kept(TopK(2), torch.tensor([[3.0, 2.0, 2.0, 0.0]])) == [[True, True, True, False]]  # tie: 3 kept


@pytest.mark.parametrize("p, mask", [(0.0, [1, 1, 1, 1]), (0.2, [1, 1, 1, 0]), (0.5, [1, 1, 0, 0]),
                                     (1.0, [1, 0, 0, 0])])
def test_min_p_threshold_is_p_times_max_prob(p, mask):
    # thresholds 0, 0.1, 0.25, 0.5 against probabilities 0.5, 0.3, 0.15, 0.05
    assert kept(MinP(p), PROBS.log()) == [[bool(m) for m in mask]]


def test_min_p_min_tokens_to_keep():
    assert kept(MinP(1.0, min_tokens_to_keep=2), PROBS.log()) == [[True, True, False, False]]
    assert kept(MinP(1.0, min_tokens_to_keep=9), PROBS.log()) == [[True] * 4]  # more than V: all


def test_temperature_divides():
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    assert torch.equal(Temperature(0.5)(IDS, logits), torch.tensor([[4.0, -2.0, 1.0]]))
    assert torch.equal(Temperature(2)(IDS, logits), torch.tensor([[1.0, -0.5, 0.25]]))


def test_repetition_penalty_divides_positive_multiplies_negative():
    logits = torch.tensor([[2.0, -2.0, 1.0, -1.0, 0.0, 3.0]])
    ids = torch.tensor([[0, 1, 0, 4, 0]])  # 0 three times: still penalised once
    assert torch.equal(RepetitionPenalty(2.0)(ids, logits), torch.tensor([[1.0, -4.0, 1.0, -1.0, 0.0, 3.0]]))
    assert torch.equal(RepetitionPenalty(0.5)(ids, logits), torch.tensor([[4.0, -1.0, 1.0, -1.0, 0.0, 3.0]]))
    # skip leading positions (left pads, say): per row with a (B,) tensor
    two = logits.repeat(2, 1)
    ids2 = torch.tensor([[5, 5, 1, 1], [5, 1, 1, 1]])
    out = RepetitionPenalty(2.0, prompt_ignore_length=torch.tensor([2, 0]))(ids2, two)
    assert torch.equal(out, torch.tensor([[2.0, -4.0, 1.0, -1.0, 0.0, 3.0],     # the two 5s skipped
                                          [2.0, -4.0, 1.0, -1.0, 0.0, 1.5]]))


def test_no_repeat_ngram_on_a_written_sequence():
    V = 10
    logits = torch.zeros(3, V)
    ids = torch.tensor([[1, 2, 3, 1, 2, 4, 1, 2],
                        [5, 6, 7, 5, 6, 9, 9, 6],
                        [1, 2, 3, 4, 8, 2, 3, 4]])

    def banned(n):
        out = NoRepeatNGram(n)(ids, logits)
        return [torch.isinf(row).nonzero().flatten().tolist() for row in out]

    assert banned(1) == [[1, 2, 3, 4], [5, 6, 7, 9], [1, 2, 3, 4, 8]]  # every token seen
    assert banned(2) == [[3, 4], [7, 9], [8]]  # after 2: (2,3), (2,4); after 6: (6,7), (6,9); after 4: (4,8)
    assert banned(3) == [[3, 4], [], [8]]  # after (1,2): 3 and 4; (9,6) never began a trigram
    assert banned(4) == [[], [], [8]]  # only row 3 has seen its last three tokens (2,3,4) before
    assert banned(9) == [[], [], []]  # T < n: no complete n-gram yet
    out = NoRepeatNGram(3)(ids, logits)
    assert torch.equal(out[torch.isfinite(out)], torch.zeros(3 * V - 3))  # the others untouched


def test_processors_return_new_tensors():
    logits = torch.randn(3, 20)
    before = logits.clone()
    ids = torch.randint(0, 20, (3, 7))
    for proc in build_processors(temperature=0.7, top_k=5, top_p=0.9, min_p=0.05, repetition_penalty=1.3,
                                 no_repeat_ngram_size=2) + [NoRepeatNGram(50)]:
        assert proc(ids, logits) is not logits
    assert torch.equal(logits, before)


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=-0.1), "temperature"), (dict(temperature=float("nan")), "temperature"),
    (dict(top_k=-1), "top_k"), (dict(top_k=2.5), "top_k"), (dict(top_k=True), "top_k"),
    (dict(top_p=0.0), "top_p"), (dict(top_p=1.5), "top_p"), (dict(min_p=-0.1), "min_p"),
    (dict(min_p=1.01), "min_p"), (dict(repetition_penalty=0.0), "repetition_penalty"),
    (dict(no_repeat_ngram_size=-1), "no_repeat_ngram_size"),
])
def test_build_validates_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_processors(**kwargs)


@pytest.mark.parametrize("make, message", [
    (lambda: Temperature(0), "temperature"), (lambda: TopK(0), "top_k"), (lambda: TopP(0.0), "top_p"),
    (lambda: TopP(0.5, min_tokens_to_keep=0), "min_tokens_to_keep"), (lambda: MinP(2.0), "min_p"),
    (lambda: RepetitionPenalty(-1.0), "repetition_penalty"),
    (lambda: NoRepeatNGram(0), "no_repeat_ngram_size"),
    (lambda: RepetitionPenalty(1.2, prompt_ignore_length=-1), "prompt_ignore_length"),
])
def test_processors_validate_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_build_order_and_repr():
    procs = build_processors(temperature=0.7, top_k=50, top_p=0.9, min_p=0.05, repetition_penalty=1.3,
                             no_repeat_ngram_size=3)
    assert [type(p) for p in procs] == [RepetitionPenalty, NoRepeatNGram, Temperature, TopK, TopP, MinP]
    assert repr(procs) == ("[RepetitionPenalty(1.3), NoRepeatNGram(3), Temperature(0.7), "
                           "TopK(k=50, min_tokens_to_keep=1), TopP(p=0.9, min_tokens_to_keep=1), "
                           "MinP(p=0.05, min_tokens_to_keep=1)]")
    assert build_processors() == []  # every default is "off"
    assert [type(p) for p in build_processors(top_p=0.5, min_p=0.1)] == [TopP, MinP]
    greedy = build_processors(temperature=0, top_k=50, top_p=0.9, repetition_penalty=1.3)
    assert [type(p) for p in greedy] == [RepetitionPenalty]  # greedy: penalties only, as HF without sampling


def test_apply_processors_folds_in_order():
    logits, ids = torch.randn(2, 30), torch.randint(0, 30, (2, 5))
    procs = [Temperature(0.5), TopK(4), TopP(0.7)]
    expected = TopP(0.7)(ids, TopK(4)(ids, Temperature(0.5)(ids, logits)))
    assert torch.equal(apply_processors(procs, ids, logits), expected)
    assert torch.equal(apply_processors([], ids, logits), logits)
