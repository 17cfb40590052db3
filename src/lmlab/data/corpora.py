"""Bundled corpora and `--data` resolution: a bundled name, a text file, or a folder of text files."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lmlab.data.rows import read_text
from lmlab.errors import LmlabError

TEXT_SUFFIXES = (".txt", ".md", ".text")


@dataclass(frozen=True)
class Corpus:
    name: str
    filename: str
    description: str
    provenance: str


BUNDLED: dict[str, Corpus] = {
    "tinyshakespeare": Corpus("tinyshakespeare", "tinyshakespeare.txt",
                              "Tiny Shakespeare, the classic char-level LM corpus (English)",
                              "Shakespeare's plays, public domain; as distributed with Karpathy's char-rnn"),
    "tang300": Corpus("tang300", "tang300.txt",
                      "313 Tang poems (唐诗三百首): title, author, verses (Chinese)",
                      "poems public domain; compilation from Debian's fortunes-zh (GPL-3.0+)"),
}


def bundled_path(name: str) -> Path:
    return Path(str(resources.files("lmlab.data") / "corpora" / BUNDLED[name].filename))


def _read(path: Path, skip_bad: bool) -> str:
    text, bad = read_text(path, skip_bad)
    bad.report(text.count("\n") + 1, "lines")
    return text


def _folder_files(path: Path) -> list[Path]:
    """The text files of a folder (recursively); the other files are named on stderr, not silently left out
    (hidden files and folders, such as .git, are left out without a word)."""
    visible = [p for p in path.rglob("*") if p.is_file()
               and not any(part.startswith(".") for part in p.relative_to(path).parts)]
    files = sorted(p for p in visible if p.suffix.lower() in TEXT_SUFFIXES)
    others = sorted(str(p.relative_to(path)) for p in visible if p.suffix.lower() not in TEXT_SUFFIXES)
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    if not files:
        raise LmlabError(f"folder {path} holds no text files ({', '.join(TEXT_SUFFIXES)})"
                         + (f"; it has {shown}" if others else ""))
    if others:
        print(f"{path}: read {len(files)} text file(s) ({', '.join(TEXT_SUFFIXES)}); skipped {len(others)} "
              f"other file(s): {shown}", file=sys.stderr)
    return files


def load_text(spec: str, skip_bad: bool = False) -> str:
    """The text behind `--data`: a bundled corpus name, a UTF-8 text file, or a folder of them. Lines that
    are not UTF-8 are refused naming FILE:LINE, or with skip_bad left out and counted (lmlab.data.rows)."""
    if spec in BUNDLED:
        return _read(bundled_path(spec), skip_bad)
    path = Path(spec)
    if path.is_dir():
        files = _folder_files(path)
        text = "\n".join(_read(p, skip_bad) for p in files)
    elif path.is_file():
        text = _read(path, skip_bad)
    else:
        raise LmlabError(f"--data '{spec}' is neither a bundled corpus ({', '.join(BUNDLED)}) "
                         "nor an existing file or folder; see `lmlab data list`")
    if not text.strip():
        raise LmlabError(f"{path} is empty; give a text file with some content")
    return text
