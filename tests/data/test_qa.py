"""SQuAD-format reading (bad records named by file and question id, --skip-bad) and question + context windows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lmlab.data.qa import QADataConfig, answer_tokens, encode_context, qa_features, read_squad, split_articles
from lmlab.data.tokenizers import train_wordpiece
from lmlab.errors import LmlabError

DATA = Path(__file__).parent / "qa_debian_templated.json"  # 40 real Debian records, templated questions


@pytest.fixture(scope="module")
def examples():
    return read_squad(DATA)


@pytest.fixture(scope="module")
def tok(examples):
    return train_wordpiece("\n".join({ex["context"] for ex in examples}), vocab_size=600)


def _write(tmp_path, qas, context="Depends: libc6. Section: utils.") -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}))
    return path


def test_reads_every_question_of_the_fixture(examples):
    assert len(examples) == 223 and len({ex["id"] for ex in examples}) == 223
    for ex in examples:
        a = ex["answers"][0]
        assert ex["context"][a["start"]:a["start"] + len(a["text"])] == a["text"] and not ex["impossible"]


def test_a_misplaced_answer_is_refused_naming_file_and_id(tmp_path, capsys):
    good = {"id": "ok", "question": "Which section?", "answers": [{"text": "utils", "answer_start": 25}]}
    off = {"id": "q-off", "question": "Which section?", "answers": [{"text": "utils", "answer_start": 24}]}
    path = _write(tmp_path, [good, off])
    with pytest.raises(LmlabError, match=r"bad\.json: question q-off: answer 'utils' is not at answer_start 24"):
        read_squad(path)
    assert [ex["id"] for ex in read_squad(path, skip_bad=True)] == ["ok"]
    assert "skipped 1 bad row(s)" in capsys.readouterr().err


@pytest.mark.parametrize("qa,why", [
    ({"question": "q?", "answers": []}, "no 'id'"),
    ({"id": "x", "question": "", "answers": [{"text": "utils", "answer_start": 25}]}, "no 'question' text"),
    ({"id": "x", "question": "q?", "answers": []}, "needs at least one"),
    ({"id": "x", "question": "q?", "answers": [{"text": "utils"}]}, "integer 'answer_start'"),
    ({"id": "x", "question": "q?", "answers": [], "is_impossible": True}, "--unanswerable"),
])
def test_bad_records(tmp_path, qa, why):
    with pytest.raises(LmlabError, match=why):
        read_squad(_write(tmp_path, [qa]))


def test_unanswerable_questions_with_v2(tmp_path, tok):
    path = _write(tmp_path, [{"id": "none", "question": "Who?", "answers": [], "is_impossible": True}],
                  context="Depends: libc6, zlib1g, libssl3, perl. Section: utils; priority optional.")
    [ex] = read_squad(path, unanswerable=True)
    assert ex["impossible"] and ex["answers"] == []
    feats, _ = qa_features([ex], tok, QADataConfig(max_len=16, stride=2))
    assert len(feats) > 1 and all((f["start"], f["end"]) == (0, 0) for f in feats)   # every window: [CLS]


def test_not_a_squad_file(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(LmlabError, match="no 'data' list"):
        read_squad(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{oops")
    with pytest.raises(LmlabError, match="y.json is not a JSON file"):
        read_squad(tmp_path / "y.json")


def test_split_keeps_articles_whole(examples):
    train, val = split_articles(examples, 0.1, seed=0)
    assert len(train) + len(val) == len(examples)
    assert not {ex["title"] for ex in train} & {ex["title"] for ex in val} and len({ex["title"] for ex in val}) == 4
    two = [ex for ex in examples if ex["title"] in {examples[0]["title"], examples[-1]["title"]}]
    assert all(split_articles(two, 0.9, seed=0))                               # never an empty side


def test_windows_cover_the_context_and_labels_point_at_the_answer(examples, tok):
    cfg = QADataConfig(max_len=48, stride=12, max_question_len=16)
    feats, contexts = qa_features(examples, tok, cfg)
    for n, ex in enumerate(examples):
        own = [f for f in feats if f["example"] == n]
        ctx = contexts[ex["context"]]
        budget = cfg.max_len - (own[0]["offset"] - 2) - 3
        assert len(own) == 1 + math.ceil(max(0, len(ctx.ids) - budget) / 12)    # windows until the end is reached
        assert own[-1]["first"] + own[-1]["n"] == len(ctx.ids)
        for f in own:
            assert len(f["input_ids"]) <= 48 and f["input_ids"][f["offset"]:-1] == ctx.ids[f["first"]:f["first"] + f["n"]]
            if f["start"]:                                                    # labelled: the answer's tokens
                a, b = ctx.offsets[f["start"] - f["offset"] + f["first"]][0], ctx.offsets[f["end"] - f["offset"] +
                                                                                        f["first"]][1]
                assert ex["context"][a:b] == ex["answers"][0]["text"]
        first, last = answer_tokens(ctx, ex["answers"][0]["start"], ex["answers"][0]["text"])
        if last - first < budget - 12:                                          # short enough for a window:
            assert sum(bool(f["start"]) for f in own) >= 1                      # some window holds it whole
    assert len(feats) > len(examples)                                          # long records: several windows


def test_an_answer_across_a_window_edge(tok):
    context = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma"
    answer = "iota kappa lambda"
    ex = {"id": "1", "question": "which?", "context": context,
          "answers": [{"text": answer, "start": context.index(answer)}]}
    ctx = encode_context(tok, context)
    first, last = answer_tokens(ctx, ex["answers"][0]["start"], answer)
    q = len(tok.encode("which?"))
    # a budget that ends inside the answer: the first window cuts it, a later one holds it whole
    budget = last
    feats, _ = qa_features([ex], tok, QADataConfig(max_len=budget + q + 3, stride=budget // 2, max_question_len=8))
    assert feats[0]["n"] == budget and first < budget <= last
    assert (feats[0]["start"], feats[0]["end"]) == (0, 0)                      # cut: "not here" ([CLS])
    whole = [f for f in feats if f["start"]]
    assert whole and all(f["first"] <= first and last < f["first"] + f["n"] for f in whole)
    f = whole[0]
    assert tok.decode(f["input_ids"][f["start"]:f["end"] + 1]) == answer
