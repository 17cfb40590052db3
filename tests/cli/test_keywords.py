"""`lmlab keywords`: top terms per document from JSONL and text files, the tf-idf flags, and one-line errors."""

from pathlib import Path

import pytest

from lmlab.cli import main

FORTUNES = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"


def test_top_terms_of_each_fortune(capsys):
    assert main(["keywords", str(FORTUNES), "--top", "3", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("450 documents") and "tf raw, idf smooth, norm l2" in out
    blocks = out.strip().split("\n\n")[1:]
    assert len(blocks) == 2 and blocks[0].startswith(f"{FORTUNES}:1 ")
    terms = blocks[0].splitlines()[1].split()
    assert len(terms) == 6 and all(0 < float(w) <= 1 for w in terms[1::2])


def test_text_file_per_line_with_the_notes_formulas(tmp_path, capsys):
    path = tmp_path / "d.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\nthe cat chased the dog\nthe bird sat\n",
                    encoding="utf-8")
    assert main(["keywords", str(path), "--per", "line", "--tf", "notes", "--idf", "notes", "--norm", "none",
                 "--top", "9"]) == 0
    first = capsys.readouterr().out.split("\n\n")[1].splitlines()[1]
    assert first.split() == ["mat", "0.116", "cat", "0.048", "on", "0.048", "sat", "0.000", "the", "-0.074"]


@pytest.mark.parametrize("extra, needle", [
    (["--min-df", "0.9"], "no term is left after min_df=0.9"),
    (["--min-df", "lots"], "neither a count (2) nor a fraction (0.5)"),
    (["--max-df", "1", "--min-df", "2"], "fewer documents"),
    (["--text-column", "body"], "fortunes_3topics.jsonl:1 has no 'body' field"),
    (["--token-pattern", "(a)(b)"], "at most one"),
    (["--top", "0"], "--top must be at least 1"),
])
def test_bad_input_is_one_error_line(cli_fails, extra, needle):
    cli_fails(["keywords", str(FORTUNES), *extra], needle)


def test_skip_bad_reports_the_count(tmp_path, capsys):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "red apples"}\n{"label": "x"}\n{"text": "green apples"}\n', encoding="utf-8")
    assert main(["keywords", str(path), "--skip-bad"]) == 0
    assert capsys.readouterr().out.startswith("2 documents (1 bad rows skipped), 3 terms")


def test_empty_corpus_is_one_error_line(cli_fails, tmp_path):
    cli_fails(["keywords", str(tmp_path / "missing.txt")], "neither a bundled corpus", "missing.txt")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    cli_fails(["keywords", str(tmp_path / "empty.jsonl")], "empty.jsonl holds no documents")
    path = tmp_path / "empty.txt"
    path.write_text("\n\n", encoding="utf-8")
    cli_fails(["keywords", str(path)], "is empty")
    path.write_text("! ?\n\n- -\n", encoding="utf-8")
    cli_fails(["keywords", str(path)], "no document holds a token")
