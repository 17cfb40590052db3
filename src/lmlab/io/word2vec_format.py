"""Word vectors in the word2vec C tool's formats, which gensim's KeyedVectors reads and writes.

Text: a header line "V C", then one line per word: the word and C numbers, space-separated (9
significant digits, so that float32 values come back exactly).
Binary: the same header, then per word: the word's UTF-8 bytes, a space, C little-endian float32
(4·C bytes) and a newline (the C tool writes one; gensim writes none; both are read here).
Words are kept in file order (most frequent first, by convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write


def save_word2vec(path: str | Path, words: list[str], vectors: np.ndarray, binary: bool = False) -> None:
    """Write `vectors` (V, C) for `words` atomically; words may not hold whitespace."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise ValueError(f"{len(words)} words but vectors of shape {vectors.shape}")
    bad = next((w for w in words if not w or any(ch.isspace() for ch in w)), None)
    if bad is not None:
        raise LmlabError(f"cannot write {path}: the word {bad!r} is empty or holds whitespace, which the "
                         "word2vec format cannot store")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(f"{len(words)} {vectors.shape[1]}\n".encode())
            for word, vec in zip(words, vectors, strict=True):
                if binary:
                    f.write(word.encode() + b" " + vec.astype("<f4").tobytes() + b"\n")
                else:
                    f.write((word + " " + " ".join(f"{x:.9g}" for x in vec.tolist()) + "\n").encode())
    atomic_write(path, write)


def _header(path: Path, line: bytes) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[1]) < 1:
        raise LmlabError(f"{path}:1: not a word2vec file (the first line should be 'VOCAB_SIZE DIM', got "
                         f"{line[:60]!r})")
    return int(parts[0]), int(parts[1])


def load_word2vec(path: str | Path, binary: bool | None = None) -> tuple[list[str], np.ndarray]:
    """(words, vectors (V, C) float32) from a text or binary word2vec file (binary: sniffed when None).
    A truncated file, a row of the wrong length or a repeated word is refused, naming the line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LmlabError(f"cannot read {path}: {e.strerror}") from None
    end = data.find(b"\n")
    v, c = _header(path, data[: end if end >= 0 else len(data)])
    if binary is None:
        binary = _looks_binary(data[end + 1:end + 1 + 4 * c + 200])
    words, vectors = (_read_binary if binary else _read_text)(path, data, end + 1, v, c)
    if len(set(words)) != len(words):
        seen: set[str] = set()
        dup = next(w for w in words if w in seen or seen.add(w))
        raise LmlabError(f"{path}: the word {dup!r} appears twice")
    return words, vectors


def _looks_binary(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(head) - 4  # a cut-off multi-byte character at the end is still text
    return False


def _read_text(path: Path, data: bytes, pos: int, v: int, c: int):
    lines = data[pos:].decode("utf-8", errors="strict").splitlines()
    lines = [line for line in lines if line.strip()]
    if len(lines) < v:
        raise LmlabError(f"{path}: truncated: the header promises {v} words, the file has {len(lines)}")
    words, vectors = [], np.empty((v, c), dtype=np.float32)
    for i, line in enumerate(lines[:v]):
        parts = line.rstrip().split(" ")
        if len(parts) != c + 1:
            raise LmlabError(f"{path}:{i + 2}: {len(parts) - 1} numbers where the header says dim {c}")
        try:
            vectors[i] = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            raise LmlabError(f"{path}:{i + 2}: not a number in the vector of {parts[0]!r}") from None
        words.append(parts[0])
    return words, vectors


def _read_binary(path: Path, data: bytes, pos: int, v: int, c: int):
    words, vectors, width = [], np.empty((v, c), dtype=np.float32), 4 * c
    for i in range(v):
        while pos < len(data) and data[pos:pos + 1] in (b"\n", b" "):
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + width > len(data):
            raise LmlabError(f"{path}: truncated at word {i + 1} of {v} (byte {pos}); the header says dim {c}")
        try:
            words.append(data[pos:space].decode("utf-8"))
        except UnicodeDecodeError:
            raise LmlabError(f"{path}: word {i + 1} at byte {pos} is not UTF-8; is the header's dim {c} right?") from None
        vectors[i] = np.frombuffer(data, dtype="<f4", count=c, offset=space + 1)
        pos = space + 1 + width
    if data[pos:].strip():
        raise LmlabError(f"{path}: {len(data) - pos} bytes after the {v} words the header promises "
                         f"(is the dim {c} right?)")
    return words, vectors


def save_vocab(path: str | Path, words: list[str], counts) -> None:
    """A run's vocab.txt: "word count" a line, in the rows' order (most frequent first)."""
    atomic_write(path, lambda tmp: Path(tmp).write_text("".join(f"{w} {int(c)}\n" for w, c in zip(words, counts,
                                                                                                   strict=True)),
                                                        encoding="utf-8"))


def load_vocab(path: str | Path) -> list[str]:
    """The words of a run's vocab.txt (save_vocab's "word count" lines), in the rows' order."""
    return [line.rsplit(" ", 1)[0] for line in Path(path).read_text(encoding="utf-8").splitlines()]
