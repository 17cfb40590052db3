"""BERT's pretraining data (Devlin et al. 2019): documents, "[CLS] A [SEP] B [SEP]" examples, masked batches.

The corpus is split into documents at blank lines and into segments at line breaks (for Tiny
Shakespeare: a speech is a document, a verse line a segment). Examples are NSP or SOP pairs (or
packed segments for "none", RoBERTa's choice); the collator masks 15 % of the tokens by the chosen
strategy, anew for every batch (dynamic, RoBERTa) or once per example (static, BERT).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Literal

import torch

from lmlab.data.mlm import MaskingConfig, MLMCollator, continuation_table
from lmlab.data.sentence_pairs import make_pretraining_examples
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import LmlabError


@dataclass(frozen=True)
class BertDataConfig:
    tokenizer_vocab_size: int = 2000  # WordPiece vocabulary trained on the corpus (sets the model's vocab_size)
    lowercase: bool = True
    max_len: int = 64               # tokens per example, [CLS] and [SEP]s included
    masking: Literal["token", "whole_word", "span"] = "token"
    mask_prob: float = 0.15
    dynamic: bool = True            # a new mask each time an example is drawn (RoBERTa); False: fixed (BERT)
    sentence_task: Literal["nsp", "sop", "none"] = "nsp"
    val_fraction: float = 0.1       # the last documents are held out

    def __post_init__(self):
        if self.masking not in ("token", "whole_word", "span"):
            raise ValueError(f"masking must be token, whole_word or span; got '{self.masking}'")
        if self.sentence_task not in ("nsp", "sop", "none"):
            raise ValueError(f"sentence_task must be nsp, sop or none; got '{self.sentence_task}'")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


def documents(text: str) -> list[list[str]]:
    """Paragraphs (split at blank lines) of non-empty lines."""
    docs = [[line.strip() for line in para.splitlines() if line.strip()] for para in text.split("\n\n")]
    return [d for d in docs if d]


class ExampleBatches:
    """Random batches of examples through the MLM collator; resumable (its RNG and the collator's)."""

    def __init__(self, examples: list[dict], collator: MLMCollator, batch_size: int, seed: int):
        self.examples, self.collator, self.batch_size = examples, collator, batch_size
        self.rng = random.Random(seed)

    def next(self) -> dict[str, torch.Tensor]:
        return self.collator(self.rng.sample(self.examples, min(self.batch_size, len(self.examples))))

    def state_dict(self) -> dict:
        return {"rng": list(self.rng.getstate()[1]), "gauss": self.rng.getstate()[2],
                "collator": self.collator.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate((3, tuple(state["rng"]), state["gauss"]))
        self.collator.load_state_dict(state["collator"])


def _examples(docs: list[list[str]], tok: TextTokenizer, cfg: BertDataConfig, seed: int) -> list[dict]:
    ids = [[tok.encode(seg) for seg in doc] for doc in docs]
    sp = tok.special_ids
    examples = make_pretraining_examples(ids, cfg.sentence_task, cfg.max_len, sp["cls"], sp["sep"], seed)
    for i, ex in enumerate(examples):
        ex["index"] = i
    return examples


def split_documents(text: str, val_fraction: float, name: str = "the corpus") -> tuple[list, list]:
    """Training and held-out documents (the last `val_fraction` of them)."""
    docs = documents(text)
    n_val = max(1, int(len(docs) * val_fraction))
    if len(docs) - n_val < 2:
        raise LmlabError(f"{name} has {len(docs)} paragraph(s); BERT pretraining needs documents separated "
                         "by blank lines (at least 3)")
    return docs[:-n_val], docs[-n_val:]


def mlm_batches(train_docs: list, val_docs: list, tok: TextTokenizer, data_cfg: BertDataConfig, batch_size: int,
                seed: int, eval_batches: int) -> tuple[ExampleBatches, list[dict], tuple[int, int]]:
    """Masked "[CLS] A [SEP] B [SEP]" training batches (a new mask per draw if dynamic), fixed validation
    batches (fixed masks, so evaluations compare), and the (train, val) example counts."""
    train_ex = _examples(train_docs, tok, data_cfg, seed)
    val_ex = _examples(val_docs, tok, data_cfg, seed + 1)
    if not val_ex:
        raise LmlabError("the held-out documents give no examples; raise val_fraction or add text")
    sp = tok.special_ids
    masking = MaskingConfig(strategy=data_cfg.masking, mask_prob=data_cfg.mask_prob, dynamic=data_cfg.dynamic)
    cont = continuation_table(tok.tok.get_vocab())

    def collator(cfg: MaskingConfig, seed: int) -> MLMCollator:
        return MLMCollator(cfg, tok.vocab_size, sp["mask"], sp["pad"], list(sp.values()), seed=seed,
                           continuation=cont)

    train = ExampleBatches(train_ex, collator(masking, seed), batch_size, seed)
    val_collate = collator(dataclasses.replace(masking, dynamic=False), 0)
    bs = batch_size
    val = [val_collate(val_ex[i:i + bs]) for i in range(0, min(len(val_ex), bs * eval_batches), bs)]
    return train, val, (len(train_ex), len(val_ex))


def masked_lm_batches(text: str, tok: TextTokenizer, model_cfg, data_cfg: BertDataConfig, batch_size: int,
                      seed: int, n_eval: int, name: str = "the corpus") -> tuple[ExampleBatches, list[dict], None]:
    """BERT's pretraining data from a corpus (documents at blank lines, the last val_fraction held out):
    `mlm_batches` of the split, in the shape `causal_lm_batches` has (no validation ids)."""
    train_docs, val_docs = split_documents(text, data_cfg.val_fraction, name)
    train, val, _ = mlm_batches(train_docs, val_docs, tok, data_cfg, batch_size, seed, n_eval)
    return train, val, None
