"""lmlab.data.documents: a corpus as documents with file:line, paragraphs or lines, JSONL rows refused or
skipped by name."""

import pytest

from lmlab.data.documents import read_documents, split_text
from lmlab.errors import LmlabError


def test_paragraphs_and_lines_with_their_first_line():
    text = "one a\none b\n\n\ntwo\n  \nthree\n"
    assert split_text(text, "f.txt") == (["one a\none b", "two", "three"], ["f.txt:1", "f.txt:5", "f.txt:7"])
    assert split_text(text, "f.txt", per="line") == (["one a", "one b", "two", "three"],
                                                     ["f.txt:1", "f.txt:2", "f.txt:5", "f.txt:7"])
    with pytest.raises(LmlabError, match="paragraph or one line"):
        split_text(text, "f.txt", per="page")


def test_bundled_corpus_and_text_file(tmp_path):
    docs, where, skipped = read_documents("tang300")
    assert len(docs) > 300 and where[0] == "tang300:1" and skipped == 0
    path = tmp_path / "a.txt"
    path.write_text("x y\n\nz\n", encoding="utf-8")
    assert read_documents(str(path))[:2] == (["x y", "z"], [f"{path}:1", f"{path}:3"])
    (tmp_path / "b.md").write_text("w\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text(" \n", encoding="utf-8")
    assert read_documents(str(tmp_path))[:2] == (["x y", "z", "w"], [f"{path}:1", f"{path}:3",
                                                                      f"{tmp_path / 'b.md'}:1"])


def test_jsonl_rows_without_text_are_named_or_skipped(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a b"}\n{"body": "c"}\n{"text": ""}\n{"text": 3}\n{"text": "d e"}\n', encoding="utf-8")
    with pytest.raises(LmlabError, match=r"d.jsonl:2 has no 'text' field \(fields: body\)"):
        read_documents(str(path))
    docs, where, skipped = read_documents(str(path), skip_bad=True)
    assert docs == ["a b", "d e"] and where == [f"{path}:1", f"{path}:5"] and skipped == 3
    assert read_documents(str(path), text_column="body", skip_bad=True)[0] == ["c"]
    path.write_text('{"text": ""}\n', encoding="utf-8")
    with pytest.raises(LmlabError, match=r"holds no documents \(1 bad rows skipped\)"):
        read_documents(str(path), skip_bad=True)
