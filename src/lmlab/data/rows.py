"""One rule for bad rows in every data loader: refuse the row, naming FILE:LINE and why, or, with
`--skip-bad`, skip it and report how many were skipped.

`Rows` reads the records of a .jsonl (one JSON object a line), .csv (header row) or .tsv (header row,
fields split at tabs, quotes are text) file with their line numbers; `lines` reads a plain UTF-8 text
file line by line. A row is bad when it cannot be read (not JSON, not an object, the wrong number of
fields, bytes that are not UTF-8) or when a loader finds a field it needs missing, null, empty or not
a string: `["a", "b"]` or `3` is never turned into the text "['a', 'b']" or "3".
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from lmlab.errors import LmlabError

SKIP_HINT = "fix or remove it, or pass --skip-bad to skip such rows"
FORMATS = (".jsonl", ".csv", ".tsv")
JSONL = (".jsonl", ".json")


class BadRows:
    """Where a loader sends a bad row: an LmlabError "FILE:LINE: why", or with `skip`, a count."""

    def __init__(self, path: str | Path, skip: bool = False):
        self.path, self.skip = Path(path), skip
        self.count, self.first = 0, ""

    def reject(self, line: int, why: str) -> None:
        where = f"{self.path}:{line}: {why}"
        if not self.skip:
            raise LmlabError(f"{where}; {SKIP_HINT}")
        self.count += 1
        self.first = self.first or where

    def report(self, kept: int, what: str = "rows") -> None:
        """Tell the user (on stderr) how many rows --skip-bad skipped, and the first of them."""
        if self.count:
            print(f"skipped {self.count} bad row(s) of {self.path}, kept {kept} {what} (--skip-bad); "
                  f"the first: {self.first}", file=sys.stderr)


def _decode(path: Path, raw: bytes, bad: BadRows, keep_lines: bool = False) -> str:
    """The text of `raw`; lines that are not UTF-8 are bad rows (with --skip-bad, dropped, or with keep_lines
    left empty so that the lines after them keep their numbers)."""
    try:
        return raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        pass
    kept, offset = [], 0
    for n, line in enumerate(raw.split(b"\n"), 1):
        try:
            kept.append(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            bad.reject(n, f"not UTF-8 text (bad byte 0x{line[e.start]:02x} at byte {offset + e.start}, line {n}); "
                          "convert the file, e.g. `iconv -f latin1 -t utf-8`")
            if keep_lines:
                kept.append("")
        offset += len(line) + 1
    return "\n".join(kept).lstrip("\ufeff")


def read_text(path: str | Path, skip_bad: bool = False, keep_lines: bool = False) -> tuple[str, BadRows]:
    """The text of a UTF-8 file; with skip_bad, lines that are not UTF-8 are left out (and counted), or with
    keep_lines left empty."""
    path = Path(path)
    bad = BadRows(path, skip_bad)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LmlabError(f"cannot read {path}: {e.strerror}") from None
    return _decode(path, raw, bad, keep_lines), bad


class Rows:
    """The records {column: value} of a .jsonl, .csv or .tsv file as (line number, record), in order;
    blank lines are skipped, unreadable lines are bad rows. `columns`: the header, or the first
    object's keys."""

    def __init__(self, path: str | Path, skip_bad: bool = False, formats: tuple[str, ...] = FORMATS,
                 jsonl: bool | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise LmlabError(f"data file {self.path} does not exist")
        self.suffix = self.path.suffix.lower()
        self.jsonl = self.suffix in JSONL if jsonl is None else jsonl
        if jsonl is None and self.suffix not in formats:
            raise LmlabError(f"{self.path}: unknown format '{self.suffix}'; give a "
                             f"{', '.join(formats[:-1])} or {formats[-1]} file")
        text, self.bad = read_text(self.path, skip_bad, keep_lines=True)
        lines = text.splitlines()
        self.columns: list[str] = []
        self.records = list(self._jsonl(lines) if self.jsonl else self._table(lines))
        if self.jsonl and self.records:
            self.columns = list(self.records[0][1])

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def _jsonl(self, lines: list[str]) -> Iterator[tuple[int, dict]]:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                self.bad.reject(n, f"not a JSON object ({e}); JSONL wants one object per line")
                continue
            if not isinstance(row, dict):
                self.bad.reject(n, f"not a JSON object but {type(row).__name__}; JSONL wants one object per line")
                continue
            yield n, row

    def _table(self, lines: list[str]) -> Iterator[tuple[int, dict]]:
        tsv = self.suffix == ".tsv"
        reader = csv.reader(io.StringIO("\n".join(lines)), delimiter="\t" if tsv else ",",
                            quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)
        self.columns = next(reader, [])
        for fields in reader:
            n = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(self.columns):
                kind = "tab-separated" if tsv else "comma-separated"
                self.bad.reject(n, f"has {len(fields)} {kind} field(s), the header has {len(self.columns)} "
                                   f"({', '.join(self.columns)})")
                continue
            yield n, dict(zip(self.columns, fields))

    def text(self, n: int, row: dict, key: str) -> str | None:
        """row[key] when it is a non-empty string; otherwise the row is bad (None when skipped)."""
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
        why = (f"has no '{key}'" if key not in row else f"'{key}' is null" if value is None
               else f"'{key}' is empty" if isinstance(value, str)
               else f"'{key}' is {type(value).__name__} {json.dumps(value, ensure_ascii=False)[:40]}, not a string")
        self.bad.reject(n, why)
        return None

    def label(self, n: int, row: dict, key: str) -> str | None:
        """row[key] as a label: a non-empty string, or an integer (JSON `"label": 3` is the label "3")."""
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(n, row, key)

    def report(self, kept: int, what: str = "rows") -> None:
        self.bad.report(kept, what)
