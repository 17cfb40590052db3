"""SQuAD's EM and F1 on hand-checked cases (the official script's definitions, worked out by hand below)."""

from __future__ import annotations

import pytest

from lmlab.tools.qa_metrics import exact_match, f1, normalize_answer, squad_scores


@pytest.mark.parametrize("text,norm", [
    ("The  Cat, sat!", "cat sat"),                        # lower, punctuation, article, whitespace
    ("Levi's Stadium", "levis stadium"),                  # the apostrophe goes, the letters join
    ("an Anne banana, a theory", "anne banana theory"),   # articles only as whole words
    ("  A  ", ""),
    ("état-major", "étatmajor"),                          # only ASCII punctuation; accents stay
])
def test_normalize(text, norm):
    assert normalize_answer(text) == norm


def test_exact_match():
    assert exact_match("the Eiffel Tower", "Eiffel tower.") == 1.0
    assert exact_match("Eiffel Tower in Paris", "Eiffel Tower") == 0.0


@pytest.mark.parametrize("pred,ref,score", [
    ("Eiffel Tower in Paris", "the Eiffel Tower", 2 / 3),   # common 2: P 2/4, R 2/2
    ("x x y", "x y y", 2 / 3),                             # bags: common min(2,1) + min(1,2) = 2: P = R = 2/3
    ("denver broncos", "carolina panthers", 0.0),
    ("", "", 1.0),                                         # v2.0: both empty (no answer, rightly)
    ("", "broncos", 0.0),
    ("the", "broncos", 0.0),                               # normalised to nothing
])
def test_f1(pred, ref, score):
    assert f1(pred, ref) == pytest.approx(score)


def test_scores_take_the_best_reference_and_count_missing_as_zero():
    preds = {"q1": "Denver Broncos", "q2": "Santa Clara, California", "q4": "x"}
    refs = {"q1": ["Denver Broncos", "Broncos"], "q2": ["Santa Clara", "Levi's Stadium"], "q3": ["2016"]}
    s = squad_scores(preds, refs)
    # q1: EM 1, F1 1; q2: EM 0, F1 vs "santa clara" = 2·(2/3·1)/(2/3+1) = 0.8; q3 unanswered: 0; q4 not a question
    assert s["exact_match"] == pytest.approx(100 / 3)
    assert s["f1"] == pytest.approx(100 * 1.8 / 3)
