"""`lmlab finetune qa` and `lmlab answer` from the command line: a run made by the CLI answers; errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lmlab.cli import main

DATA = Path(__file__).parents[1] / "data" / "qa_debian_templated.json"  # real Debian records, templated questions
CONTEXT = json.loads(DATA.read_text())["data"][0]["paragraphs"][0]["context"]


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    """A run of `lmlab finetune qa` (5 steps) on a d_model-32 BERT pretrained for 3 steps by `lmlab train bert`."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # on a CPU shared by many processes two OpenMP threads wait on each other
    folder = tmp_path_factory.mktemp("answer")
    contexts = [p["context"] for a in json.loads(DATA.read_text())["data"] for p in a["paragraphs"]]
    (folder / "corpus.txt").write_text("\n\n".join(contexts), encoding="utf-8")
    assert main(["train", "bert", "--data", str(folder / "corpus.txt"), "--d_model", "32", "--n_layers", "1",
                 "--max_seq_len", "96", "--tokenizer_vocab_size", "400", "--max_len", "48", "--sentence_task", "none",
                 "--max_steps", "3", "--eval_every", "3", "--eval_batches", "1", "--quiet",
                 "--out", str(folder / "bert")]) == 0
    assert main(["finetune", "qa", "--model", str(folder / "bert"), "--data", str(DATA), "--max-len", "64",
                 "--stride", "16", "--max_steps", "5", "--eval_every", "5", "--eval_batches", "1", "--quiet",
                 "--out", str(folder / "qa")]) == 0
    yield folder / "qa"
    torch.set_num_threads(n)


def test_finetune_qa_writes_a_run(qa_run):
    res = json.loads((qa_run / "results.json").read_text())
    assert res["max_len"] == 64 and res["eval"] == "held-out articles"
    assert json.loads((qa_run / "config.json").read_text())["family"] == "bert-qa"


def test_answer_prints_the_span(qa_run, capsys, tmp_path):
    capsys.readouterr()
    assert main(["answer", str(qa_run), "--context", CONTEXT, "--question", "Which section is it in?"]) == 0
    text, score, span = capsys.readouterr().out.strip().split("\t")
    start, end = map(int, span.removeprefix("span ").split("-"))
    assert CONTEXT[start:end] == text and 0 < float(score.removeprefix("score ")) <= 1
    (tmp_path / "record.txt").write_text(CONTEXT, encoding="utf-8")
    assert main(["answer", str(qa_run), "--context", f"@{tmp_path / 'record.txt'}", "--question", "What is it?",
                 "--question", "Which version?", "--top-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [len(q["answers"]) for q in out] == [3, 3]
    for a in out[0]["answers"]:
        assert CONTEXT[a["start"]:a["end"]] == a["answer"]
    assert out[0]["answers"][0]["score"] >= out[0]["answers"][1]["score"]


def test_answer_errors(qa_run, tmp_path, cli_fails):
    cli_fails(["answer", str(qa_run), "--context", "@nowhere.txt", "--question", "q?"], "nowhere.txt does not exist")
    cli_fails(["answer", str(qa_run), "--context", " ", "--question", "q?"], "non-empty --context")
    cli_fails(["answer", str(qa_run), "--context", "x", "--question", "q?", "--top-k", "0"], "--top-k")
    cli_fails(["answer", str(qa_run.parent / "bert"), "--context", "x", "--question", "q?"],
              "'bert' run, not a 'bert-qa' run")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "abc", "qas": [
        {"id": "q7", "question": "?", "answers": [{"text": "b", "answer_start": 0}]}]}]}]}))
    cli_fails(["finetune", "qa", "--model", str(qa_run.parent / "bert"), "--data", str(bad), "--out",
               str(tmp_path / "x")], "bad.json: question q7", "--skip-bad")
    assert not (tmp_path / "x").exists()
