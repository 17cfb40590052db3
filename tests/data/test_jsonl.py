"""read_jsonl: objects with their line numbers; bad lines named."""

import pytest

from lmlab.data.jsonl import read_jsonl
from lmlab.errors import LmlabError


def test_objects_with_line_numbers_and_clear_errors(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert read_jsonl(path) == [(1, {"a": 1}), (3, {"a": 2})]
    path.write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(LmlabError, match="x.jsonl:2: not a JSON object"):
        read_jsonl(path)
    path.write_text('{"a": \n', encoding="utf-8")
    with pytest.raises(LmlabError, match="x.jsonl:1: not a JSON object"):
        read_jsonl(path)
