"""`--skip-bad` (cli/_common.py's one definition) on the commands that read data (issue 18, defect 5): without
it a bad row stops the command with one `error:` line naming FILE:LINE and nothing is created; with it the
row is skipped and the count reported. Also: a data folder names the files it skips (defect 8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmlab.cli import main

LEGACY_BERT = Path(__file__).parents[1] / "data" / "legacy_runs" / "bert"
FORTUNES = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"
QUICK = ["--max_steps", "2", "--eval_every", "2", "--eval_batches", "1", "--batch_size", "4", "--quiet"]


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> tuple[Path, int]:
    """60 fortunes with three bad rows among them (no label, "text": null, a list as text): (file, good rows)."""
    rows = [json.loads(line) for line in FORTUNES.read_text(encoding="utf-8").splitlines()[:60]]
    rows[5:5] = [{"text": "no label"}, {"text": None, "label": "food"}, {"text": ["a", "b"], "label": "law"}]
    path = tmp_path_factory.mktemp("data") / "reviews.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, 60


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    return Path(shutil.copytree(LEGACY_BERT, tmp_path_factory.mktemp("runs") / "bert"))


def test_finetune_refuses_a_bad_row(cli_fails, bert, reviews, tmp_path):
    cli_fails(["finetune", "classify", "--model", str(bert), "--data", str(reviews[0]), *QUICK,
               "--out", str(tmp_path / "cls")], f"{reviews[0]}:6: has no 'label'", "--skip-bad")
    assert not (tmp_path / "cls").exists()


def test_finetune_skip_bad_trains_on_the_good_rows(capsys, bert, reviews, tmp_path):
    assert main(["finetune", "classify", "--model", str(bert), "--data", str(reviews[0]), *QUICK,
                 "--skip-bad", "--max_len", "32", "--out", str(tmp_path / "cls")]) == 0
    assert "skipped 3 bad row(s)" in capsys.readouterr().err
    results = json.loads((tmp_path / "cls" / "results.json").read_text())
    assert results["n_test"] + results.get("n_val", 0) < reviews[1]


def test_train_seq2seq_refuses_a_bad_pair(cli_fails, tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"en": "a", "fr": "b"}\n{"en": 7, "fr": "sept"}\n', encoding="utf-8")
    cli_fails(["train", "seq2seq", "--data", str(path), "--out", str(tmp_path / "r")],
              f"{path}:2: 'en' is int 7, not a string", "--skip-bad")
    assert not (tmp_path / "r").exists()


def test_tokenizer_train_names_skipped_files_and_skips_bad_lines(capsys, tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"To be, or not to be\n" + "caf\xe9\n".encode("latin-1") + b"the end\n")
    (folder / "table.csv").write_text("x,y\n", encoding="utf-8")
    out = tmp_path / "tok.json"
    assert main(["tokenizer", "train", "--kind", "char", "--data", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {folder / 'a.txt'}:2: not UTF-8" in err and "--skip-bad" in err and not out.exists()
    assert main(["tokenizer", "train", "--kind", "char", "--data", str(folder), "--out", str(out),
                 "--skip-bad"]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 other file(s): table.csv" in err and "skipped 1 bad row(s)" in err


def test_every_data_command_takes_skip_bad(capsys):
    for argv in (["train", "gpt"], ["train", "bert"], ["train", "seq2seq"], ["finetune", "classify"],
                 ["distill"], ["tokenizer", "train"], ["embed"], ["translate"]):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        assert "--skip-bad" in capsys.readouterr().out, argv
