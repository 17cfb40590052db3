"""CoNLL files for token classification (NER): reading, BIO label checks, and word -> WordPiece alignment.

The format of the CoNLL-2003 shared task (Tjong Kim Sang & De Meulder 2003), the one NER data comes in:
one word a line, its label in the last column (columns split at tabs when the line has one, else at
spaces: "EU B-ORG", "EU NNP B-NP B-ORG"), a blank line between sentences, `-DOCSTART-` lines skipped.
Labels follow IOB2, also called BIO (Ratinov & Roth 2009): "O" outside, "B-TYPE" begins an entity,
"I-TYPE" continues one of the same type. The original CoNLL-2003 files use IOB1, where "I-TYPE" also
begins an entity unless it follows one of its type; `scheme = "iob1"` reads those and converts them.

BERT labels words, but reads WordPieces (Devlin et al. 2019, §5.3): each word is tokenized on its own,
the first piece carries the word's label and the others get -100 (ignored by the loss), as Hugging
Face's token-classification examples do; the prediction for a word is its first piece's. A sentence
longer than max_len pieces is cut into chunks of whole words, each [CLS] … [SEP], so no word is lost.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from lmlab.data.classification import SequenceBatches
from lmlab.data.rows import read_text
from lmlab.errors import LmlabError

IGNORE = -100  # the label of every piece after a word's first, and of [CLS], [SEP] and padding
SCHEMES = ("iob2", "iob1")
LABEL = re.compile(r"O|[BI]-\S+")


@dataclass(frozen=True)
class NerDataConfig:
    max_len: int = 128               # pieces per sequence, [CLS] and [SEP] included; longer sentences are chunked
    scheme: Literal["iob2", "iob1"] = "iob2"  # the labels' scheme; iob1 is converted to iob2 on reading
    val_fraction: float = 0.1        # of the sentences of --data, seeded (when no --val file is given)
    test_fraction: float = 0.1       # likewise (when no --test file is given)
    split_seed: int = 0

    def __post_init__(self):
        if self.max_len < 3:
            raise ValueError(f"max_len must be at least 3 ([CLS], a piece, [SEP]), got {self.max_len}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got '{self.scheme}'")
        if not (0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise ValueError("val_fraction and test_fraction must be in [0, 1) and leave sentences to train on")


@dataclass
class Sentence:
    words: list[str]
    labels: list[str]
    line: int  # the line of its first word, for messages


# ---- reading ---------------------------------------------------------------------------------------
def _check_labels(labels: list[str], scheme: str) -> tuple[int, str] | None:
    """(index, why) of the first label that breaks BIO, or None; iob1 labels are converted in place."""
    prev = "O"
    for i, label in enumerate(labels):
        if label.startswith("I-") and prev[2:] != label[2:]:  # an entity that does not begin with B-
            if scheme == "iob1":
                labels[i] = label = "B-" + label[2:]
            else:
                return i, (f"'{label}' follows '{prev}': in IOB2 (BIO) an entity begins with B-{label[2:]} "
                           "(IOB1 files, e.g. the original CoNLL-2003: --scheme iob1)")
        prev = label
    return None


def read_conll(path: str | Path, scheme: str = "iob2", skip_bad: bool = False) -> list[Sentence]:
    """The sentences of a CoNLL file. A bad line (one column, a label that is not O / B-X / I-X, an I-X
    that begins an entity in IOB2) is refused naming FILE:LINE; with skip_bad its sentence is left out."""
    path = Path(path)
    if not path.is_file():
        raise LmlabError(f"data file {path} does not exist")
    text, bad = read_text(path, skip_bad, keep_lines=True)
    sentences: list[Sentence] = []
    words: list[str] = []
    labels: list[str] = []
    lines: list[int] = []
    broken = False

    def close() -> None:
        nonlocal words, labels, lines, broken
        if words and not broken:
            problem = _check_labels(labels, scheme)
            if problem is None:
                sentences.append(Sentence(words, labels, lines[0]))
            else:
                bad.reject(lines[problem[0]], problem[1])
        words, labels, lines, broken = [], [], [], False

    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            close()
            continue
        if line.startswith("-DOCSTART-"):
            close()
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if len(fields) < 2 or not fields[0] or not fields[-1]:
            bad.reject(n, f"'{line[:40]}' is not 'word … label' (a word and its label, split by a tab or spaces)")
            broken = True
            continue
        if not LABEL.fullmatch(fields[-1]):
            bad.reject(n, f"label '{fields[-1][:30]}' is not O, B-TYPE or I-TYPE (BIO)")
            broken = True
            continue
        words.append(fields[0])
        labels.append(fields[-1])
        lines.append(n)
    close()
    bad.report(len(sentences), "sentences")
    if not sentences:
        raise LmlabError(f"{path} holds no sentences (a word and its label a line, a blank line between sentences)")
    return sentences


def write_conll(path: str | Path, sentences: list[tuple[list[str], list[str]]]) -> None:
    """Write (words, labels) sentences as a two-column, tab-separated CoNLL file."""
    with open(path, "w", encoding="utf-8") as f:
        for words, labels in sentences:
            f.write("".join(f"{w}\t{lb}\n" for w, lb in zip(words, labels)) + "\n")


def label_vocab(sentences: list[Sentence]) -> list[str]:
    """["O", "B-A", "I-A", "B-B", "I-B", …]: O first, then both tags of every entity type, sorted."""
    types = sorted({lb[2:] for s in sentences for lb in s.labels if lb != "O"})
    return ["O"] + [f"{bi}-{t}" for t in types for bi in "BI"]


def split_sentences(sentences: list, val_fraction: float, test_fraction: float, seed: int) -> tuple[list, list, list]:
    """A seeded shuffle cut into train / validation / test."""
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_val, n_test = round(val_fraction * len(order)), round(test_fraction * len(order))
    pick = lambda ids: [sentences[i] for i in sorted(ids)]
    return pick(order[n_val + n_test:]), pick(order[:n_val]), pick(order[n_val:n_val + n_test])


# ---- words in raw text -------------------------------------------------------------------------------
WORD = re.compile(r"[(\[{\"'`]|[^\s(\[{\"'`]\S*?(?=[)\]}\"'`,;:!?.]*(?:\s|$))|\S")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of a raw text: split at whitespace, with opening and closing punctuation
    ( ) [ ] { } " ' ` , ; : ! ? and a sentence's final "." split off as words of their own, so that
    "(see /etc/hosts)." is "(", "see", "/etc/hosts", ")", "." while "g++", "%s" and "libc6.1" stay whole."""
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


# ---- alignment ---------------------------------------------------------------------------------------
def word_pieces(words: list[str], tok) -> list[list[int]]:
    """The WordPiece ids of each word tokenized on its own; a word with no pieces (only characters the
    normaliser drops) is read as [UNK], so every word has a first piece to carry its label."""
    unk = tok.special_ids.get("unk", 1)
    return [tok.encode(w) or [unk] for w in words]


def encode_sentence(words: list[str], tok, max_len: int, labels: list[int] | None = None) -> list[dict]:
    """A sentence -> its chunks, each {"input_ids", "token_type_ids", "labels", "first", "words"}: [CLS]
    pieces [SEP] of consecutive whole words fitting max_len; labels (T,) holds the word's label id at its
    first piece and -100 elsewhere; first lists the first piece's position of each word of the chunk,
    words = (first word, end). A single word longer than the budget keeps its first max_len − 2 pieces."""
    sp = tok.special_ids
    if "cls" not in sp or "sep" not in sp:
        raise LmlabError("token classification with BERT needs a wordpiece tokenizer with [CLS] and [SEP]")
    budget = max_len - 2
    pieces = [p[:budget] for p in word_pieces(words, tok)]
    chunks, start = [], 0
    while start < len(words):
        end, size = start, 0
        while end < len(words) and size + len(pieces[end]) <= budget:
            size += len(pieces[end])
            end += 1
        ids, lab, first = [sp["cls"]], [IGNORE], []
        for w in range(start, end):
            first.append(len(ids))
            ids += pieces[w]
            lab += [labels[w] if labels is not None else IGNORE] + [IGNORE] * (len(pieces[w]) - 1)
        ids.append(sp["sep"])
        lab.append(IGNORE)
        chunks.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "labels": lab, "first": first,
                       "words": (start, end)})
        start = end
    return chunks


def encode_sentences(sentences: list[Sentence], tok, vocab: list[str], max_len: int) -> list[dict]:
    """Every chunk of every sentence, with "sentence" = its index; labels must be in vocab."""
    index = {lb: i for i, lb in enumerate(vocab)}
    out = []
    for k, s in enumerate(sentences):
        unknown = [lb for lb in s.labels if lb not in index]
        if unknown:
            raise LmlabError(f"line {s.line}: label '{unknown[0]}' never occurs in the training data "
                             f"(the labels: {', '.join(vocab)})")
        for chunk in encode_sentence(s.words, tok, max_len, [index[lb] for lb in s.labels]):
            out.append({**chunk, "sentence": k})
    return out


def collate_tokens(chunks: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad to the longest chunk: input_ids / token_type_ids / attention_mask / labels (B, T); labels -100 on pads."""
    T = max(len(c["input_ids"]) for c in chunks)
    pad = lambda xs, v: xs + [v] * (T - len(xs))
    return {"input_ids": torch.tensor([pad(c["input_ids"], pad_id) for c in chunks]),
            "token_type_ids": torch.tensor([pad(c["token_type_ids"], 0) for c in chunks]),
            "attention_mask": torch.tensor([pad([1] * len(c["input_ids"]), 0) for c in chunks]),
            "labels": torch.tensor([pad(c["labels"], IGNORE) for c in chunks])}


class TokenBatches(SequenceBatches):
    """Random training batches of chunks (resumable, as SequenceBatches), padded by collate_tokens."""

    def next(self) -> dict[str, torch.Tensor]:
        return collate_tokens(self.rng.sample(self.seqs, min(self.batch_size, len(self.seqs))), self.pad_id)


def token_batches(chunks: list[dict], batch_size: int, pad_id: int) -> list[dict[str, torch.Tensor]]:
    """Fixed evaluation batches, in order."""
    return [collate_tokens(chunks[i:i + batch_size], pad_id) for i in range(0, len(chunks), batch_size)]
