"""`--skip-bad` (cli/_common.py's one definition) on the commands that read data (issue 18, defect 5): without
it a bad row stops the command with one `error:` line naming FILE:LINE and nothing is created; with it the
row is skipped and the count reported. Also: a data folder names the files it skips (defect 8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmlab.cli import main

LEGACY = Path(__file__).parents[1] / "data" / "legacy_runs"
LEGACY_BERT = LEGACY / "bert"
FORTUNES = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"
QUICK = ["--max_steps", "2", "--eval_every", "2", "--eval_batches", "1", "--batch_size", "4", "--quiet"]

pytestmark = pytest.mark.usefixtures("short_samples")


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


@pytest.fixture(scope="module")
def not_utf8(tmp_path_factory) -> Path:
    """A folder with the plain-text inputs' bad row, a line that is not UTF-8 (latin-1 "café naïve"):
    corpus.txt (the Shakespeare of the legacy GPT run, the line at 3), texts.txt (three texts, the line at 2),
    and copies of the legacy gpt, bert and seq2seq runs to read them."""
    folder = tmp_path_factory.mktemp("not_utf8")
    lines = (LEGACY / "corpora" / "shakespeare5k.txt").read_bytes().split(b"\n")
    lines.insert(2, "caf\xe9 na\xefve".encode("latin-1"))
    (folder / "corpus.txt").write_bytes(b"\n".join(lines))
    (folder / "texts.txt").write_bytes(b"the cat sat\n" + "caf\xe9\n".encode("latin-1") + b"a dog\n")
    for run in ("gpt", "bert", "seq2seq"):
        shutil.copytree(LEGACY / run, folder / run)
    return folder


TEXT_COMMANDS = {  # command -> (its arguments but --out, the bad file, its bad line); FOLDER is `not_utf8`'s
    "train gpt": (["train", "gpt", "--data", "FOLDER/corpus.txt", "--preset", "tiny", "--warmup_steps", "1",
                   *QUICK], "corpus.txt", 3),
    "train bert": (["train", "bert", "--data", "FOLDER/corpus.txt", "--preset", "bert-tiny", "--max_seq_len", "64",
                    "--tokenizer_vocab_size", "200", "--max_len", "32", "--warmup_steps", "1", *QUICK],
                   "corpus.txt", 3),
    "embed": (["embed", "FOLDER/bert", "--input", "FOLDER/texts.txt"], "texts.txt", 2),
    "translate": (["translate", "FOLDER/seq2seq", "--input", "FOLDER/texts.txt", "--max-new-tokens", "4"],
                  "texts.txt", 2),
    "distill": (["distill", "--teacher", "FOLDER/gpt", "--data", "FOLDER/corpus.txt", *QUICK], "corpus.txt", 3),
}


@pytest.mark.parametrize("command", TEXT_COMMANDS)
def test_a_line_that_is_not_utf8_is_refused_or_skipped(command, not_utf8, cli_fails, capsys, tmp_path):
    """A plain-text input's bad row is a line that is not UTF-8: refused with FILE:LINE and the --skip-bad hint,
    nothing written; with --skip-bad left out, counted on stderr, and the command runs on the other lines."""
    argv, name, line = TEXT_COMMANDS[command]
    out = tmp_path / ("out.json" if command == "embed" else "out")
    argv = [a.replace("FOLDER", str(not_utf8)) for a in argv] + ["--out", str(out)]
    cli_fails(argv, f"{not_utf8 / name}:{line}: not UTF-8", "iconv", "--skip-bad")
    assert not out.exists()
    assert main([*argv, "--skip-bad"]) == 0
    assert f"skipped 1 bad row(s) of {not_utf8 / name}" in capsys.readouterr().err
    assert out.exists()
    if command == "embed":
        assert [r["text"] for r in json.loads(out.read_text(encoding="utf-8"))] == ["the cat sat", "a dog"]
    if command == "translate":
        assert len(out.read_text(encoding="utf-8").splitlines()) == 2


def test_every_data_command_takes_skip_bad(capsys):
    for argv in (["train", "gpt"], ["train", "bert"], ["train", "seq2seq"], ["finetune", "classify"],
                 ["distill"], ["tokenizer", "train"], ["embed"], ["translate"]):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        assert "--skip-bad" in capsys.readouterr().out, argv
