"""lmlab.data.rows: one rule for bad rows in every loader (issue 18, defect 5). A row without a label, with
"text": null, or with a number or a list as text is refused naming FILE:LINE; with skip_bad it is skipped
and counted on stderr. Never is `["a", "b"]` trained as the text "['a', 'b']"."""

from __future__ import annotations

import json

import pytest

from lmlab.data.classification import read_examples
from lmlab.data.corpora import load_text
from lmlab.data.rows import Rows, read_text
from lmlab.data.translation import read_parallel
from lmlab.errors import LmlabError

GOOD = [{"text": f"text number {i}", "label": "ab"[i % 2]} for i in range(4)]
BAD = {  # what each bad row is, and the reason the error gives
    "no label": ({"text": "a text"}, "has no 'label'"),
    "null text": ({"text": None, "label": "a"}, "'text' is null"),
    "list as text": ({"text": ["a", "b"], "label": "a"}, "'text' is list [\"a\", \"b\"], not a string"),
    "number as text": ({"text": 3, "label": "a"}, "'text' is int 3, not a string"),
    "empty text": ({"text": "  ", "label": "a"}, "'text' is empty"),
    "null label": ({"text": "a text", "label": None}, "'label' is null"),
    "list label": ({"text": "a text", "label": ["a"]}, "'label' is list"),
}


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", BAD)
def test_classification_refuses_a_bad_row_naming_file_and_line(tmp_path, kind):
    row, why = BAD[kind]
    path = jsonl(tmp_path / "reviews.jsonl", [*GOOD[:2], row, *GOOD[2:]])
    with pytest.raises(LmlabError) as e:
        read_examples(path)
    assert str(e.value).startswith(f"{path}:3: {why}") and "--skip-bad" in str(e.value)


def test_skip_bad_skips_and_counts(tmp_path, capsys):
    rows = [GOOD[0], *(r for r, _ in BAD.values()), *GOOD[1:]]
    path = jsonl(tmp_path / "reviews.jsonl", rows)
    examples = read_examples(path, skip_bad=True)
    assert [ex["text"] for ex in examples] == [r["text"] for r in GOOD]
    err = capsys.readouterr().err
    assert f"skipped {len(BAD)} bad row(s) of {path}, kept 4 examples" in err
    assert f"the first: {path}:2: has no 'label'" in err


def test_integer_labels_are_labels(tmp_path):
    path = jsonl(tmp_path / "x.jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    assert [ex["label"] for ex in read_examples(path)] == ["0", "1"]


@pytest.mark.parametrize("content,needle", [
    ("text,label\nfine,a\nno label here\n", "x.csv:3: has 1 comma-separated field(s), the header has 2"),
    ("text,label\nfine,a\n\"a, b\",c,d\n", "x.csv:3: has 3 comma-separated field(s)"),
    ("text,label\nfine,a\n,b\n", "x.csv:3: 'text' is empty"),
])
def test_csv_rows_with_missing_or_extra_fields(tmp_path, content, needle):
    path = tmp_path / "x.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LmlabError) as e:
        read_examples(path)
    assert needle in str(e.value)


def test_translation_pairs_follow_the_same_rule(tmp_path, capsys):
    pairs = [{"en": f"sentence {i}", "fr": f"phrase {i}"} for i in range(4)]
    bad = [{"en": "hello", "fr": None}, {"en": ["a", "b"], "fr": "x"}, {"en": 7, "fr": "sept"}]
    path = jsonl(tmp_path / "p.jsonl", [*pairs[:2], *bad, *pairs[2:]])
    with pytest.raises(LmlabError, match="p.jsonl:3: 'fr' is null"):
        read_parallel(path)
    got, _, _ = read_parallel(path, skip_bad=True)
    assert [p.src for p in got] == [p["en"] for p in pairs]
    assert "skipped 3 bad row(s)" in capsys.readouterr().err
    tsv = tmp_path / "p.tsv"
    tsv.write_text("en\tfr\na\tb\nbroken\nc\td\ne\tf\n", encoding="utf-8")
    with pytest.raises(LmlabError, match="p.tsv:3: has 1 tab-separated field"):
        read_parallel(tsv)
    assert len(read_parallel(tsv, skip_bad=True)[0]) == 3


def test_jsonl_lines_that_are_not_objects(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": \n[1]\n{"a": 2}\n', encoding="utf-8")
    with pytest.raises(LmlabError, match="x.jsonl:2: not a JSON object"):
        list(Rows(path))
    rows = Rows(path, skip_bad=True)
    assert list(rows) == [(1, {"a": 1}), (4, {"a": 2})] and rows.bad.count == 2


def test_text_lines_that_are_not_utf8(tmp_path, capsys):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"good line\n" + "caf\xe9\n".encode("latin-1") + b"also good\n")
    with pytest.raises(LmlabError, match=r"mixed.txt:2: not UTF-8 text \(bad byte 0xe9 at byte 13, line 2\)"):
        load_text(str(path))
    assert load_text(str(path), skip_bad=True) == "good line\nalso good\n"
    assert "skipped 1 bad row(s)" in capsys.readouterr().err
    assert read_text(path, skip_bad=True)[1].count == 1


def test_a_folder_names_the_files_it_skips(tmp_path, capsys):
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("some text", encoding="utf-8")
    (tmp_path / "texts" / "notes.csv").write_text("x,y", encoding="utf-8")
    (tmp_path / "texts" / "photo.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "texts" / ".hidden").write_text("x", encoding="utf-8")
    assert load_text(str(tmp_path / "texts")) == "some text"
    err = capsys.readouterr().err
    assert "read 1 text file(s)" in err and "skipped 2 other file(s): notes.csv, photo.jpg" in err
    load_text(str(tmp_path / "texts" / "a.txt"))
    assert capsys.readouterr().err == ""


def test_rows_after_a_line_that_is_not_utf8_keep_their_numbers(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"text": "a", "label": 1}\n' + '{"text": "caf\xe9", "label": 2}\n'.encode("latin-1")
                     + b'{"text": "b", "label": null}\n')
    with pytest.raises(LmlabError, match="x.jsonl:2: not UTF-8"):
        read_examples(path)
    rows = Rows(path, skip_bad=True)
    assert [n for n, _ in rows] == [1, 3]  # line 3 is still line 3
    assert rows.label(3, dict(rows)[3], "label") is None and rows.bad.count == 2
