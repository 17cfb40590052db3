"""Text classification data: labelled texts from CSV / TSV / JSONL, a label vocabulary, a seeded
train/validation/test split, and BERT's ways of fitting a long text into max_len tokens.

A row holds a text, optionally a second text (sentence-pair tasks) and a label. The label vocabulary
is the sorted set of labels, so label ids do not depend on the order of the file. The split is
stratified: every label's rows are shuffled (seeded) and the fractions taken per label, so a small
class still reaches the validation and test sets.

Long texts (notes 5.一 "长文本处理"). BERT reads at most max_len tokens, [CLS] and [SEP] included, so a
text keeps budget = max_len − 2 of its tokens:
- head:           the first `budget` tokens (the notes: the first 510 for max_len 512);
- tail:           the last `budget` tokens (the ending often holds the conclusion);
- head+tail:      the first h and the last budget − h. The notes' numbers for max_len 512: a text of
                  up to 800 tokens keeps 128 + 382, a longer one 256 + 254. Scaled to any max_len:
                  h = max_len // 4 when the text has at most round(800/512 · max_len) tokens, else
                  h = max_len // 2 (512 -> 128 or 256; 128 -> 32 or 64);
- sliding-window: every window of `budget` tokens starting at 0, stride, 2·stride … until one reaches
                  the end of the text (the last may be shorter); each window is a sequence of its own
                  with the text's label. Training treats the windows as separate examples; at
                  evaluation the logits of a text's windows are averaged (`pool_logits`) and the text
                  gets one prediction.
A text that fits is never cut, whatever the strategy. Sentence pairs are cut the longest text first
(`TextTokenizer.encode_pair`); only `head` applies to them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from lmlab.data.rows import Rows
from lmlab.errors import LmlabError

STRATEGIES = ("head", "tail", "head+tail", "sliding-window")


@dataclass(frozen=True)
class ClassificationDataConfig:
    text_column: str = "text"
    label_column: str = "label"
    pair_column: str = ""            # a second text column for sentence-pair tasks ("": none)
    labels: str = ""                 # keep only these labels, comma-separated ("": all)
    max_len: int = 128               # tokens per sequence, [CLS] and [SEP] included
    truncation: Literal["head", "tail", "head+tail", "sliding-window"] = "head"
    stride: int = 0                  # sliding-window step in tokens (0: half a window)
    val_fraction: float = 0.1        # per label, seeded
    test_fraction: float = 0.1
    split_seed: int = 0

    def __post_init__(self):
        if self.truncation not in STRATEGIES:
            raise ValueError(f"truncation must be one of {', '.join(STRATEGIES)}; got '{self.truncation}'")
        if self.max_len < 3:
            raise ValueError(f"max_len must be at least 3 ([CLS], one token, [SEP]), got {self.max_len}")
        if self.stride < 0 or self.stride > self.max_len - 2:
            raise ValueError(f"stride must be in [0, max_len − 2 = {self.max_len - 2}], got {self.stride}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise ValueError("need 0 < val_fraction, test_fraction and val_fraction + test_fraction < 1")
        if self.pair_column and self.truncation != "head":
            raise ValueError("sentence pairs are cut longest-first; use truncation head with pair_column")


# ---- reading --------------------------------------------------------------------------------------
def read_examples(path: str | Path, text_column: str = "text", label_column: str = "label",
                  pair_column: str = "", skip_bad: bool = False) -> list[dict]:
    """[{"text", "pair" (or None), "label" (a string)}, …] from a CSV (header row), TSV or JSONL file.
    A row without a text or a label (missing, null, empty, not a string) is a bad row (lmlab.data.rows):
    refused naming FILE:LINE, or with skip_bad skipped and counted."""
    rows = Rows(path, skip_bad, formats=(".csv", ".tsv", ".jsonl", ".json"))
    if not rows:
        raise LmlabError(f"{path} holds no rows")
    wanted = [c for c in (text_column, label_column, pair_column) if c]
    missing = [c for c in wanted if not any(c in row for _, row in rows)]
    if missing:
        raise LmlabError(f"{path} has no column {', '.join(repr(c) for c in missing)} (columns: "
                         f"{', '.join(map(str, rows.columns))}); choose with --text-column / --label-column")
    out = []
    for n, row in rows:
        text = rows.text(n, row, text_column)
        label = rows.label(n, row, label_column) if text is not None else None
        pair = rows.text(n, row, pair_column) if pair_column and label is not None else None
        if text is None or label is None or (pair_column and pair is None):
            continue
        out.append({"text": text, "pair": pair, "label": label})
    rows.report(len(out), "examples")
    if not out:
        raise LmlabError(f"{path}: no row has both a text in '{text_column}' and a label in '{label_column}'")
    return out


def keep_labels(examples: list[dict], labels: str) -> list[dict]:
    """Only the rows whose label is in the comma-separated list `labels` ("" keeps all)."""
    if not labels:
        return examples
    wanted = [x.strip() for x in labels.split(",") if x.strip()]
    known = {ex["label"] for ex in examples}
    unknown = [x for x in wanted if x not in known]
    if unknown:
        raise LmlabError(f"label(s) {', '.join(unknown)} not in the data (it has {', '.join(sorted(known)[:20])})")
    return [ex for ex in examples if ex["label"] in set(wanted)]


def label_vocab(examples: list[dict]) -> list[str]:
    """The sorted labels: label id i is `vocab[i]`."""
    vocab = sorted({ex["label"] for ex in examples})
    if len(vocab) < 2:
        raise LmlabError(f"classification needs at least 2 labels; the data has {len(vocab)} ({', '.join(vocab)})")
    return vocab


def split_examples(examples: list[dict], val_fraction: float, test_fraction: float,
                   seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Stratified, seeded train / validation / test split: per label, shuffle, then take
    round(n·test_fraction) for test and round(n·val_fraction) for validation (each at least one
    when the label has 3 or more rows)."""
    rng = random.Random(seed)
    train, val, test = [], [], []
    for label in sorted({ex["label"] for ex in examples}):
        rows = [ex for ex in examples if ex["label"] == label]
        rng.shuffle(rows)
        n = len(rows)
        n_test = max(1, round(n * test_fraction)) if n >= 3 else 0
        n_val = max(1, round(n * val_fraction)) if n >= 3 else 0
        test += rows[:n_test]
        val += rows[n_test:n_test + n_val]
        train += rows[n_test + n_val:]
    for part in (train, val, test):
        rng.shuffle(part)
    if not (train and val and test):
        raise LmlabError(f"{len(examples)} rows are too few for a train / validation / test split")
    return train, val, test


# ---- long texts -----------------------------------------------------------------------------------
def head_tail_sizes(n_tokens: int, max_len: int) -> tuple[int, int]:
    """(h, t): the head and tail lengths that head+tail keeps of an n-token text (see module doc)."""
    budget = max_len - 2
    if n_tokens <= budget:
        return n_tokens, 0
    head = max_len // 4 if n_tokens <= round(800 / 512 * max_len) else max_len // 2
    head = min(head, budget)
    return head, budget - head


def window_starts(n_tokens: int, size: int, stride: int) -> list[int]:
    """Starts of the sliding windows: 0, stride, … until a window reaches the end.
    Their number is 1 + ceil(max(0, n − size) / stride)."""
    if stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    starts = [0]
    while starts[-1] + size < n_tokens:
        starts.append(starts[-1] + stride)
    return starts


def truncate(ids: list[int], max_len: int, strategy: str, stride: int = 0) -> list[list[int]]:
    """The token runs (no [CLS]/[SEP]) that `strategy` keeps of a text: one run, or one per window."""
    budget = max_len - 2
    if strategy == "sliding-window":
        stride = stride or max(1, budget // 2)
        return [ids[s:s + budget] for s in window_starts(len(ids), budget, stride)]
    if len(ids) <= budget:
        return [list(ids)]
    if strategy == "head":
        return [ids[:budget]]
    if strategy == "tail":
        return [ids[-budget:]]
    if strategy == "head+tail":
        h, t = head_tail_sizes(len(ids), max_len)
        return [ids[:h] + ids[len(ids) - t:]]
    raise ValueError(f"truncation must be one of {', '.join(STRATEGIES)}; got '{strategy}'")


def encode_examples(examples: list[dict], tok, vocab: list[str], cfg: ClassificationDataConfig) -> list[dict]:
    """Each example -> its sequences: {"input_ids", "token_type_ids", "label", "doc"} (doc = the
    example's index, shared by the windows of one text)."""
    sp = tok.special_ids
    if "cls" not in sp or "sep" not in sp:
        raise LmlabError("classification with BERT needs a wordpiece tokenizer with [CLS] and [SEP]")
    index = {label: i for i, label in enumerate(vocab)}
    out = []
    for doc, ex in enumerate(examples):
        label = index[ex["label"]]
        if ex.get("pair") is not None:
            enc = tok.encode_pair(ex["text"], ex["pair"], max_len=cfg.max_len)
            out.append({"input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"],
                        "label": label, "doc": doc})
            continue
        for run in truncate(tok.encode(ex["text"]), cfg.max_len, cfg.truncation, cfg.stride):
            ids = [sp["cls"], *run, sp["sep"]]
            out.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "label": label, "doc": doc})
    return out


# ---- batches --------------------------------------------------------------------------------------
def collate(seqs: list[dict], pad_id: int, with_docs: bool = False) -> dict[str, torch.Tensor]:
    """Pad to the longest sequence. With `with_docs`, also "doc": each sequence's text numbered 0, 1, …
    within the batch (for pooling windows), and "labels" holds one label per text."""
    T = max(len(s["input_ids"]) for s in seqs)
    pad = lambda xs, v: xs + [v] * (T - len(xs))
    batch = {"input_ids": torch.tensor([pad(s["input_ids"], pad_id) for s in seqs]),
             "token_type_ids": torch.tensor([pad(s["token_type_ids"], 0) for s in seqs]),
             "attention_mask": torch.tensor([pad([1] * len(s["input_ids"]), 0) for s in seqs])}
    if not with_docs:
        batch["labels"] = torch.tensor([s["label"] for s in seqs])
        return batch
    local: dict[int, int] = {}
    for s in seqs:
        local.setdefault(s["doc"], len(local))
    batch["doc"] = torch.tensor([local[s["doc"]] for s in seqs])
    first = {}
    for s in seqs:
        first.setdefault(s["doc"], s["label"])
    batch["labels"] = torch.tensor(list(first.values()))
    return batch


def pool_logits(logits: torch.Tensor, doc: torch.Tensor, n_docs: int | None = None) -> torch.Tensor:
    """Mean of the logits (N, C) of each text's windows: doc (N,) in 0..n_docs-1 -> (n_docs, C)."""
    n_docs = int(doc.max()) + 1 if n_docs is None else n_docs
    sums = torch.zeros(n_docs, logits.size(-1), dtype=logits.dtype, device=logits.device)
    sums.index_add_(0, doc, logits)
    counts = torch.bincount(doc, minlength=n_docs).clamp_min(1).to(logits.dtype)
    return sums / counts[:, None]


def doc_batches(seqs: list[dict], batch_size: int, pad_id: int) -> list[dict[str, torch.Tensor]]:
    """Fixed evaluation batches of about `batch_size` sequences that never split a text's windows."""
    by_doc: dict[int, list[dict]] = {}
    for s in seqs:
        by_doc.setdefault(s["doc"], []).append(s)
    batches, current = [], []
    for windows in by_doc.values():
        if current and len(current) + len(windows) > batch_size:
            batches.append(collate(current, pad_id, with_docs=True))
            current = []
        current += windows
    if current:
        batches.append(collate(current, pad_id, with_docs=True))
    return batches


class SequenceBatches:
    """Random training batches of sequences (windows count as examples); resumable (its RNG)."""

    def __init__(self, seqs: list[dict], batch_size: int, pad_id: int, seed: int):
        self.seqs, self.batch_size, self.pad_id = seqs, batch_size, pad_id
        self.rng = random.Random(seed)

    def next(self) -> dict[str, torch.Tensor]:
        return collate(self.rng.sample(self.seqs, min(self.batch_size, len(self.seqs))), self.pad_id)

    def state_dict(self) -> dict:
        return {"rng": list(self.rng.getstate()[1]), "gauss": self.rng.getstate()[2]}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate((3, tuple(state["rng"]), state["gauss"]))
