"""Bundled corpora and `--data` resolution: a bundled name, a text file, or a folder of text files."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

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


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LmlabError(f"cannot read {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise LmlabError(f"{path} is not UTF-8 text (bad byte 0x{raw[e.start]:02x} at byte {e.start}, "
                         f"line {line}); convert it, e.g. `iconv -f latin1 -t utf-8`") from None
    return text.lstrip("\ufeff")


def load_text(spec: str) -> str:
    """The text behind `--data`: a bundled corpus name, a UTF-8 text file, or a folder of them."""
    if spec in BUNDLED:
        return _read(bundled_path(spec))
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise LmlabError(f"folder {path} holds no text files ({', '.join(TEXT_SUFFIXES)})")
        text = "\n".join(_read(p) for p in files)
    elif path.is_file():
        text = _read(path)
    else:
        raise LmlabError(f"--data '{spec}' is neither a bundled corpus ({', '.join(BUNDLED)}) "
                         "nor an existing file or folder; see `lmlab data list`")
    if not text.strip():
        raise LmlabError(f"{path} is empty; give a text file with some content")
    return text
