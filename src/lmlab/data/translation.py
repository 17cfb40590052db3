"""Parallel corpora for translation: read, split, tokenize, and batch by token count.

Reading: a TSV with a header row (`en<TAB>zh<TAB>source`, one pair a line; fields are split at tabs,
quotes are text) or JSONL (`{"en": …, "zh": …}` a line). The source and target columns are named
by the config (default: the first two columns). A malformed line is a bad row (lmlab.data.rows).

Splitting: pairs are grouped by source sentence, so a sentence that occurs twice never sits in both
the training and the test split; the groups are shuffled with a fixed seed and the first `test_size`
pairs' worth become the test split, the next `val_size` the validation split.

Tokens: one byte-level BPE trained on both sides (a joint vocabulary, which lets the source
embedding, target embedding and output projection share one matrix, Vaswani et al. §3.4) or one
per side. Every sentence ends in EOS; the decoder input starts with BOS (here the same token, as
in fairseq): source `x_1 … x_S EOS`, decoder input `BOS y_1 … y_T`, labels `y_1 … y_T EOS`.

Placeholders (`placeholder_slots` > 0): the k-th printf placeholder of a source becomes the reserved
token <phk>, and the target's placeholders the slots they stand for (lmlab.data.placeholders), so the
model copies one opaque token instead of spelling `%`, `l`, `u` (decoding then restores them).

Batching (§5.1: "each training batch contained a set of sentence pairs containing approximately
25000 source tokens and 25000 target tokens"): pairs of similar length are batched together, up to
`batch_tokens` tokens (padding included) on the longer side, so little compute goes to padding.
Each epoch shuffles, sorts by length, cuts batches and shuffles their order, all from (seed, epoch),
so the iterator's state is two numbers and a resumed run sees the same batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.data.placeholders import mask_source, mask_target
from lmlab.data.rows import Rows
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import LmlabError


@dataclass(frozen=True)
class TranslationDataConfig:
    source: str = ""                # column (TSV) or key (JSONL) of the source text; "" = the first
    target: str = ""                # … of the target text; "" = the second
    joint_vocab: bool = True        # one BPE for both languages (needed by share_embeddings); False: one each
    bpe_vocab_size: int = 8000      # per tokenizer
    max_len: int = 128              # training pairs with more tokens on either side (EOS included) are dropped
    batch_tokens: int = 4096        # tokens per batch (per process under DDP) on the longer side, padding included
    val_size: int = 500             # sentence pairs held out for validation loss and BLEU
    test_size: int = 500            # … and for the final test (never seen in training)
    split_seed: int = 0
    bleu_sentences: int = 200       # validation pairs translated (greedy) at each evaluation for BLEU/chrF; 0: none
    bleu_tokenize: str = "auto"     # sacrebleu tokenizer: auto (zh for Chinese, ja-mecab…: see metrics), 13a, zh, char, none
    placeholder_slots: int = 0      # reserved tokens <ph0> … for printf placeholders (masking); 0: raw text, as
                                    # runs from before masking (their config.json has no such key) were trained

    def __post_init__(self):
        for name in ("bpe_vocab_size", "max_len", "batch_tokens"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.placeholder_slots < 0:
            raise ValueError(f"placeholder_slots must be ≥ 0, got {self.placeholder_slots}")
        if self.val_size < 1 or self.test_size < 0 or self.bleu_sentences < 0:
            raise ValueError("need val_size ≥ 1, test_size ≥ 0 and bleu_sentences ≥ 0")
        if self.batch_tokens < self.max_len:
            raise ValueError(f"batch_tokens ({self.batch_tokens}) must hold at least one pair of max_len "
                             f"({self.max_len}) tokens")


# what `lmlab train seq2seq` trains with: placeholders masked as 16 reserved tokens (messages hold at most 12)
TRANSLATION_DATA = TranslationDataConfig(placeholder_slots=16)


@dataclass(frozen=True)
class Pair:
    src: str
    tgt: str


# ---- reading ----------------------------------------------------------------------------------------
def read_parallel(path: str | Path, source: str = "", target: str = "",
                  skip_bad: bool = False) -> tuple[list[Pair], str, str]:
    """The pairs of a .tsv (header row) or .jsonl file, and the source and target column names. A line
    without both texts (missing, null, empty, not a string, the wrong number of fields) is a bad row
    (lmlab.data.rows): refused naming FILE:LINE, or with skip_bad skipped and counted."""
    rows = Rows(path, skip_bad, formats=(".tsv", ".jsonl"))
    path, columns = rows.path, rows.columns
    if not columns:
        raise LmlabError(f"{path} is empty" if rows.suffix == ".tsv" else f"{path} holds no pairs")
    if len(columns) < 2 and not (source and target):
        raise LmlabError(f"{path} needs two columns (source and target), it has {', '.join(columns)}")
    source, target = source or columns[0], target or columns[1]
    if source == target:
        raise LmlabError(f"source and target are the same column '{source}'")
    for name in (source, target):
        if rows.suffix == ".tsv" and name not in columns:
            raise LmlabError(f"{path} has no column '{name}' (columns: {', '.join(columns)}); choose with "
                             "--source / --target")
    pairs = []
    for n, row in rows:
        src = rows.text(n, row, source)
        tgt = rows.text(n, row, target) if src is not None else None
        if src is not None and tgt is not None:
            pairs.append(Pair(src, tgt))
    rows.report(len(pairs), "pairs")
    if len(pairs) < 3:
        raise LmlabError(f"{path} holds {len(pairs)} pair(s); training needs train, validation and test pairs")
    return pairs, source, target


def split_pairs(pairs: list[Pair], val_size: int, test_size: int, seed: int) -> tuple[list[Pair], ...]:
    """(train, val, test): seeded, grouped by source text so no source sentence crosses splits."""
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(p.src, []).append(p)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    test, val, train = [], [], []
    for k in keys:
        part = test if len(test) < test_size else val if len(val) < val_size else train
        part.extend(groups[k])
    if not train or not val:
        raise LmlabError(f"{len(pairs)} pairs are too few for {val_size} validation and {test_size} test pairs; "
                         "lower val_size / test_size")
    return train, val, test


# ---- tokens -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    src: list[int]                  # x_1 … x_S EOS
    tgt: list[int]                  # y_1 … y_T EOS


def masked_pairs(pairs: list[Pair], n_slots: int) -> list[Pair]:
    """The pairs with their placeholders as reserved tokens (lmlab.data.placeholders); n_slots 0: as they are."""
    if not n_slots:
        return pairs
    out = []
    for p in pairs:
        src, phs = mask_source(p.src, n_slots)
        out.append(Pair(src, mask_target(p.tgt, phs)))
    return out


def encode_pairs(pairs: list[Pair], src_tok, tgt_tok, eos_id: int, max_len: int | None = None,
                 n_slots: int = 0) -> list[Example]:
    """Token ids of each pair with EOS appended (placeholders masked into n_slots reserved tokens); with
    max_len, pairs longer on either side are left out."""
    out = []
    pairs = masked_pairs(pairs, n_slots)
    src_ids = src_tok.tok.encode_batch([p.src for p in pairs])
    tgt_ids = tgt_tok.tok.encode_batch([p.tgt for p in pairs])
    for s, t in zip(src_ids, tgt_ids):
        ex = Example(s.ids + [eos_id], t.ids + [eos_id])
        if max_len is None or max(len(ex.src), len(ex.tgt)) <= max_len:
            out.append(ex)
    return out


def collate(examples: list[Example], pad_id: int, bos_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors: input_ids and attention_mask (B, S) for the encoder; decoder_input_ids,
    decoder_attention_mask and labels (B, T) for the decoder, labels -100 on padding."""
    B = len(examples)
    S = max(len(e.src) for e in examples)
    T = max(len(e.tgt) for e in examples)
    src = torch.full((B, S), pad_id, dtype=torch.long)
    dec = torch.full((B, T), pad_id, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for i, e in enumerate(examples):
        src[i, :len(e.src)] = torch.tensor(e.src)
        labels[i, :len(e.tgt)] = torch.tensor(e.tgt)                      # y_1 … y_T EOS
        dec[i, :len(e.tgt)] = torch.tensor([bos_id] + e.tgt[:-1])         # BOS y_1 … y_T
    src_mask = torch.arange(S)[None, :] < torch.tensor([len(e.src) for e in examples])[:, None]
    return {"input_ids": src, "attention_mask": src_mask, "decoder_input_ids": dec,
            "decoder_attention_mask": labels != -100, "labels": labels}


def token_batches(examples: list[Example], batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Indices of examples in batches of similar length: shuffle (random tie order), sort by length,
    cut greedily so that batch size × longest side ≤ batch_tokens, shuffle the batches."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    size = lambda i: max(len(examples[i].src), len(examples[i].tgt))
    order.sort(key=size)                                                    # stable: ties keep the shuffle
    batches, current, longest = [], [], 0
    for i in order:
        if current and max(longest, size(i)) * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, size(i))
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


class TokenBatches:
    """Endless training batches by token count, epoch after epoch; resumable by (epoch, index).

    Under DDP process `rank` of `world_size` takes every world_size-th batch of the epoch (the epoch
    is cut to a multiple of world_size, so all processes step together)."""

    def __init__(self, examples: list[Example], batch_tokens: int, pad_id: int, bos_id: int, seed: int,
                 rank: int = 0, world_size: int = 1):
        if not examples:
            raise LmlabError("no training pairs left (all longer than max_len?); raise max_len")
        self.examples, self.batch_tokens, self.pad_id, self.bos_id = examples, batch_tokens, pad_id, bos_id
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch, self.index = 0, 0
        self._batches = self._epoch_batches()

    def _epoch_batches(self) -> list[list[int]]:
        batches = token_batches(self.examples, self.batch_tokens, random.Random(self.seed * 100_003 + self.epoch))
        batches = batches[:len(batches) // self.world_size * self.world_size] or batches[:1]
        return batches[self.rank::self.world_size] or batches

    def next(self) -> dict[str, torch.Tensor]:
        if self.index >= len(self._batches):
            self.epoch, self.index = self.epoch + 1, 0
            self._batches = self._epoch_batches()
        batch = self._batches[self.index]
        self.index += 1
        return collate([self.examples[i] for i in batch], self.pad_id, self.bos_id)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = state["epoch"]
        self._batches = self._epoch_batches()
        self.index = state["index"]


def eval_batches(examples: list[Example], batch_tokens: int, pad_id: int, bos_id: int,
                 max_batches: int) -> list[dict[str, torch.Tensor]]:
    """Fixed validation batches (the same at every evaluation, so the losses compare)."""
    batches = token_batches(examples, batch_tokens, random.Random(0))[:max_batches]
    return [collate([examples[i] for i in b], pad_id, bos_id) for b in batches]


def tokenizer_files(joint: bool) -> tuple[str, str]:
    """A translation run's (source, target) tokenizer files: one joint file, or one per side."""
    return ("tokenizer.json", "tokenizer.json") if joint else ("src_tokenizer.json", "tgt_tokenizer.json")


def load_tokenizers(run_dir: str | Path, cfg, joint: bool) -> tuple[TextTokenizer, TextTokenizer]:
    """The source and target tokenizers of a translation run (the same object for a joint vocabulary), checked
    against the model config's vocabulary sizes."""
    src_file, tgt_file = tokenizer_files(joint)
    src = TextTokenizer.load(Path(run_dir) / src_file, model_vocab_size=cfg.vocab_size)
    tgt = src if joint else TextTokenizer.load(Path(run_dir) / tgt_file, model_vocab_size=cfg.target_vocab_size)
    return src, tgt
