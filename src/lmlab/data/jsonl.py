"""JSON Lines: one JSON object per line (blank lines skipped), read with line numbers for errors."""

from __future__ import annotations

import json
from pathlib import Path

from lmlab.errors import LmlabError


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """[(line number, object), …]; a line that is not a JSON object is named in the error."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise LmlabError(f"{path}:{n} is not a JSON object ({e}); JSONL wants one object per line") from None
        if not isinstance(row, dict):
            raise LmlabError(f"{path}:{n} is not a JSON object; JSONL wants one object per line")
        rows.append((n, row))
    return rows
