"""Entity grouping (as transformers' pipeline groups word labels), seqeval's scores as results.json holds them,
the unseen-entity restriction and the gazetteer baseline, on hand-made tags whose answers read off directly."""

from __future__ import annotations

import pytest

from lmlab.tools.token_tagging import (
    entity_names,
    gazetteer_tags,
    group_entities,
    only_unseen,
    seqeval_scores,
)


def test_group_entities_follows_the_pipeline():
    tags = ["B-PKG", "I-PKG", "O", "I-PKG", "B-PKG", "B-PKG", "I-OPT", "I-OPT"]
    assert [(k, a, b) for k, a, b, _ in group_entities(tags)] == [
        ("PKG", 0, 2), ("PKG", 3, 4), ("PKG", 4, 5), ("PKG", 5, 6), ("OPT", 6, 8)]  # I after O or another type begins
    [(_, _, _, score)] = group_entities(["B-X", "I-X"], [0.5, 1.0])
    assert score == 0.75


def test_seqeval_scores():
    gold = [["B-PKG", "O", "B-OPT"], ["B-PKG", "I-PKG", "O"]]
    pred = [["B-PKG", "O", "O"], ["B-PKG", "O", "B-PKG"]]
    s = seqeval_scores(gold, pred)  # 1 of 3 predicted right, 1 of 3 gold found
    assert (s["precision"], s["recall"], s["f1"], s["support"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3, 3))
    assert s["per_type"]["OPT"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert s["per_type"]["PKG"]["support"] == 2


def test_unseen_and_gazetteer():
    train_words, train_tags = [["uses", "perl", "and", "gnu", "make"]], [["O", "B-PKG", "O", "B-PKG", "I-PKG"]]
    names = entity_names(train_words, train_tags)
    assert names == {("perl",): "PKG", ("gnu", "make"): "PKG"}
    words = [["Perl", "or", "ocaml", "via", "gnu", "make"]]
    gold = [["B-PKG", "O", "B-PKG", "O", "B-PKG", "I-PKG"]]
    gaz = gazetteer_tags(words, names)
    assert gaz == [["B-PKG", "O", "O", "O", "B-PKG", "I-PKG"]]  # lower-cased, longest match
    seen = {" ".join(k) for k in names}
    assert only_unseen(words, gold, seen) == [["O", "O", "B-PKG", "O", "O", "O"]]
    assert seqeval_scores(only_unseen(words, gold, seen), only_unseen(words, gaz, seen))["recall"] == 0.0
