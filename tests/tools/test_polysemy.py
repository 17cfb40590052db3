"""lmlab.tools.explain.polysemy: the sense rule on WikiText's "bank" sentences, the hand-labelled set of every
"bank"/"banks" (--set all), finding a word a model split into pieces, the separation numbers by hand, the CLI
with a trained run and its random twin, user sentences (Chinese, with an ELMo), and the refusals."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.cli import main
from lmlab.errors import LmlabError
from lmlab.tools.explain.polysemy import (
    labelled,
    nearest_centroid,
    occurrences,
    read_labelled,
    read_senses,
    run,
    sense_of_bank,
    separation,
    wikitext_sentences,
    word_vectors,
)
from lmlab.tools.token_vectors import WordVectors


def test_the_rule_labels_the_wikitext_sentences():
    sentences = wikitext_sentences()
    assert len(sentences) == 39 and all("bank" in s.lower() for s in sentences)
    senses = [sense_of_bank(s) for s in sentences]
    assert senses.count("river") == 18 and senses.count("money") == 14 and senses.count(None) == 7
    assert sense_of_bank("The main road bent south along the east bank of the river .") == "river"
    assert sense_of_bank("He also purchased 200 shares in the new bank .") == "money"
    assert sense_of_bank("the late May and August bank holidays") is None


def test_the_hand_labelled_set_counts_and_offsets():
    every = read_senses(keep_all=True)
    assert len(every) == 230 and all(o.labeller in ("rule", "hand") for o in every)
    count = {s: sum(o.sense == s for o in every) for s in ("river", "money", "other", "unclear")}
    assert count == {"river": 33, "money": 139, "other": 57, "unclear": 1}
    assert len(read_senses()) == 172
    wiki = [o for o in every if o.source == "wikitext2" and o.sense in ("river", "money")]
    assert sum(o.sense == "river" for o in wiki) == 28 and len(wiki) == 51
    # the rule says river for "West Bank" (west) and money for the banks of the Mississippi ("banks"); the hand not
    west = [o for o in every if o.sentence[o.offset - 5:o.offset] == "West "]
    assert len(west) == 31 and {o.sense for o in west} == {"other"} and {o.labeller for o in west} == {"hand"}
    assert any(o.sense == "river" and o.labeller == "hand" and "Mississippi" in o.sentence for o in every)


def test_the_all_set_picks_each_occurrence(tmp_path):
    data = labelled(sentence_set="all")
    assert len(data.texts) == 172 and data.forms == ("bank", "banks")
    assert data.senses.count("river") == 33 and set(data.origins) >= {"wikitext2", "lee", "fortunes"}
    # one sentence, three occurrences: the bank shares (money), the bank (money), the First Bank (money)
    rows = [i for i, t in enumerate(data.texts) if t.startswith("The bank shares he held")]
    assert sorted(data.which[i] for i in rows) == [0, 1, 2] and "First bank of" in data.texts[rows[0]]
    # "World Bank's" -> "World bank 's": the word alone in every model's words
    assert any("World bank 's Doing" in t for t in data.texts)
    words = ["the", "banks", "of", "the", "bank", "and", "a", "bank"]
    row = WordVectors(words, torch.arange(8.0)[:, None])
    vectors, where = word_vectors([row, row], ("bank", "banks"), [2, None])
    assert vectors[:, 0].tolist() == [7.0, 1.0, 4.0, 7.0] and where == [0, 1, 1, 1]
    (tmp_path / "bad.tsv").write_text("river\thand\tx\t3\tthe bank\n", encoding="utf-8")
    with pytest.raises(LmlabError, match="bad.tsv:1: no 'bank'"):
        read_senses(tmp_path / "bad.tsv")


def test_occurrences_find_words_split_into_pieces():
    assert occurrences(["i", "ate", "an", "苹", "果", "."], "苹果") == [[3, 4]]
    assert occurrences(["The", "Bank", "of", "the", "bank"], "bank") == [[1], [4]]
    assert occurrences(["banks"], "bank") == []


def test_separation_numbers():
    v = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    m, cos = separation(v, ["a", "a", "b", "b"])
    assert m["same"] == pytest.approx((1.0 + 0.8) / 2)                  # a-a: 1; b-b: 0.8
    assert m["cross"] == pytest.approx((0 + 0.6 + 0 + 0.6) / 4)
    assert m["gap"] == pytest.approx(0.9 - 0.3) and m["nn_acc"] == 1.0
    # centred (mean (0.65, 0.45) subtracted): same pairs 1 and 0.7474, cross pairs -0.9787 and -0.8684
    assert m["centred_gap"] == pytest.approx((1 + 0.7474) / 2 + (0.9787 + 0.8684) / 2, abs=1e-3)
    assert cos.shape == (4, 4) and m["centroid_acc"] == 1.0


def test_nearest_centroid_leaves_the_occurrence_out():
    # on a line: a at x = -3 and 3, b at 0.2 and 0.7. Left out, each a is nearer b's centroid (0.45) than the
    # other a; b at 0.2 is nearer a's centroid (0) than the other b (0.7); only b at 0.7 is right
    v = torch.tensor([[-3.0, 1.0], [3.0, 1.0], [0.2, 1.0], [0.7, 1.0]])
    m, _ = separation(v, ["a", "a", "b", "b"])
    assert m["centroid_acc"] == 0.25
    # each counted in its own centroid (a at 0, b at 0.45): a at 3 and b at 0.2 are still wrong
    assert nearest_centroid(v, torch.tensor([0, 0, 1, 1]), torch.ones(4, 4, dtype=torch.bool)).item() == 0.5


def test_cli_measures_a_run_beside_its_random_twin(elmo_run, capsys):
    path, _ = elmo_run
    assert main(["explain", "polysemy", "--model", str(path)]) == 0   # the plot: tests/tools/test_explain.py
    out = capsys.readouterr().out
    assert "static (word2vec): by construction  1.0000  1.0000  +0.0000      n/a     n/a      n/a" in out
    assert "run (elmo)" in out and "run, random weights" in out
    assert main(["explain", "polysemy", "--model", str(path), "--layer", "1"]) == 0   # another ELMo layer
    assert "run (elmo), layer 1" in capsys.readouterr().out
    assert main(["explain", "polysemy", "--model", str(path), "--set", "all"]) == 0   # every hand-labelled one
    out = capsys.readouterr().out
    assert "172 occurrences" in out and "river (33):" in out and "money (139):" in out


def test_user_sentences_in_chinese(elmo_run, tmp_path):
    path, _ = elmo_run
    (tmp_path / "apple.tsv").write_text(
        "# 苹果: the company or the fruit; words separated by spaces for an ELMo\n"
        "公司\t苹果 公司 发布 了 新 手机\n公司\t他 在 苹果 上班\n"
        "水果\t我 吃 了 一个 苹果\n水果\t这个 苹果 很 甜\n", encoding="utf-8")
    result = run(None, models=(str(path),), word="苹果", sentences=str(tmp_path / "apple.tsv"))
    for m in (result["run (elmo)"], result["run, random weights"]):
        assert -1 <= m["cross"] <= 1 and m["same"] < 1 and not math.isnan(m["gap"])


def test_refusals(elmo_run, tmp_path, cli_fails):
    path, _ = elmo_run
    (tmp_path / "bad.tsv").write_text("a\tone bank\nno tab here\n", encoding="utf-8")
    with pytest.raises(LmlabError, match="bad.tsv:2"):
        read_labelled(tmp_path / "bad.tsv")
    (tmp_path / "one.tsv").write_text("a\tone bank\na\ttwo bank\n", encoding="utf-8")
    cli_fails(["explain", "polysemy", "--sentences", str(tmp_path / "one.tsv")], "two senses")
    (tmp_path / "miss.tsv").write_text("a\tone bank\na\ttwo bank\nb\tthree\nb\tfour bank\n", encoding="utf-8")
    cli_fails(["explain", "polysemy", "--sentences", str(tmp_path / "miss.tsv")], "sentence 3", "'bank'")
    cli_fails(["explain", "polysemy", "--word", "apple"], "--sentences")
    cli_fails(["explain", "polysemy", "--set", "all", "--sentences", str(tmp_path / "one.tsv")], "not both")
    (tmp_path / "empty.tsv").write_text("# nothing\n", encoding="utf-8")
    cli_fails(["explain", "polysemy", "--sentences", str(tmp_path / "empty.tsv")], "no labelled sentences")
    cli_fails(["explain", "softmax", "--model", str(path)], "takes no --model")
    cli_fails(["explain", "polysemy", "--model", str(path), "--layer", "3"], "layer must be between 0")
