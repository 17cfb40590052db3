"""A corpus as separate documents, each with where it came from (file:line): a bundled corpus, a text file or
folder (one document per paragraph — blocks separated by blank lines — or per line), or JSON Lines (one
document per row, from its text field). For bag-of-words work such as TF-IDF, where a document is the unit."""

from __future__ import annotations

from pathlib import Path

from lmlab.data.corpora import BUNDLED, TEXT_SUFFIXES, load_text
from lmlab.data.jsonl import read_jsonl
from lmlab.errors import LmlabError

UNITS = ("paragraph", "line")


def split_text(text: str, source: str, per: str = "paragraph") -> tuple[list[str], list[str]]:
    """(documents, "source:line" of each document's first line); blank lines separate paragraphs."""
    if per not in UNITS:
        raise LmlabError(f"a document is one {' or one '.join(UNITS)}; got '{per}'")
    docs, where, block, start = [], [], [], 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() and per == "line":
            docs.append(line.strip())
            where.append(f"{source}:{n}")
        elif line.strip():
            start = start or n
            block.append(line)
        elif block:
            docs.append("\n".join(block).strip())
            where.append(f"{source}:{start}")
            block, start = [], 0
    if block:
        docs.append("\n".join(block).strip())
        where.append(f"{source}:{start}")
    return docs, where


def read_documents(spec: str, per: str = "paragraph", text_column: str = "text",
                   skip_bad: bool = False) -> tuple[list[str], list[str], int]:
    """(documents, where each came from, rows skipped). A .jsonl row without a non-empty string in
    `text_column` is refused naming file:line, or skipped and counted with `skip_bad`."""
    path = Path(spec)
    if spec not in BUNDLED and not path.exists():
        raise LmlabError(f"'{spec}' is neither a bundled corpus ({', '.join(BUNDLED)}) nor an existing file or folder")
    if spec not in BUNDLED and path.suffix.lower() in (".jsonl", ".json") and path.is_file():
        docs, where, skipped = [], [], 0
        for n, row in read_jsonl(path):
            text = row.get(text_column)
            if not isinstance(text, str) or not text.strip():
                if skip_bad:
                    skipped += 1
                    continue
                what = "no" if text is None else "an empty" if isinstance(text, str) else "a non-text"
                raise LmlabError(f"{path}:{n} has {what} '{text_column}' field (fields: {', '.join(row) or 'none'}); "
                                 "choose the field with --text-column, or --skip-bad")
            docs.append(text)
            where.append(f"{path}:{n}")
        if not docs:
            raise LmlabError(f"{path} holds no documents" + (f" ({skipped} bad rows skipped)" if skipped else ""))
        return docs, where, skipped
    if spec not in BUNDLED and path.is_dir():    # each file on its own, so that file:line names the right file
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise LmlabError(f"folder {path} holds no text files ({', '.join(TEXT_SUFFIXES)})")
        parts = [split_text(load_text(str(f)) if f.read_bytes().strip() else "", str(f), per) for f in files]
        return [d for p, _ in parts for d in p], [w for _, ws in parts for w in ws], 0
    docs, where = split_text(load_text(spec), spec, per)
    return docs, where, 0
