"""`lmlab explain tf-idf`: the hand-worked corpus, the notes' negative idf, and the rankings it prints."""

import contextlib
import io
import math

import pytest

from lmlab.tools.explain import run_topic


@pytest.fixture(scope="module")
def shown():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        numbers = run_topic("tf-idf")
    return numbers, buf.getvalue()


def test_notes_idf_is_zero_for_n_minus_one_documents_and_negative_for_all(shown):
    numbers, text = shown
    assert numbers["notes_sat"] == 0 and numbers["notes_the"] == pytest.approx(math.log(4 / 5))
    assert "ln(4/5) = -0.2231 < 0" in text


def test_every_hand_computed_cell_equals_lmlab(shown):
    numbers, text = shown
    assert [r["term"] for r in numbers["notes_d1"]] == ["cat", "mat", "on", "sat", "the"]
    assert all(r["by_hand"] == pytest.approx(r["lmlab"], abs=1e-12) for r in numbers["notes_d1"])
    assert "✗" not in text and text.count("✓") >= 6
    assert numbers["notes_ranking"][-1] == "the"


def test_sklearn_defaults_rank_the_commonest_word_first_until_sublinear(shown):
    numbers, _ = shown
    assert numbers["ranks"]["raw"][0][0] == "the" and numbers["ranks"]["sublinear"][0][0] == "mat"
    assert numbers["shakespeare_n"] > 7000
