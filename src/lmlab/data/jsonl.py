"""JSON Lines: one JSON object per line (blank lines skipped), read with line numbers for errors."""

from __future__ import annotations

from pathlib import Path

from lmlab.data.rows import Rows


def read_jsonl(path: Path, skip_bad: bool = False) -> list[tuple[int, dict]]:
    """[(line number, object), …]; a line that is not a JSON object is a bad row (lmlab.data.rows):
    refused naming FILE:LINE, or with skip_bad left out and counted."""
    rows = Rows(path, skip_bad, jsonl=True)
    rows.report(len(rows))
    return list(rows)
