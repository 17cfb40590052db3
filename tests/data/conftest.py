"""Fixtures for the MLM / sentence-pair data tests: a small WordPiece tokenizer trained here with HF
`tokenizers` (independent of lmlab's own tokenizer wrappers) and Tiny Shakespeare encoded with it."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from lmlab.data.corpora import load_text

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4: the trainer puts them first
N_CHARS = 600_000  # about 200k WordPiece tokens with a 1000-entry vocabulary


@pytest.fixture(scope="session")
def mlm_text() -> str:
    return load_text("tinyshakespeare")[:N_CHARS]


@pytest.fixture(scope="session")
def mlm_wordpiece(mlm_text) -> Tokenizer:
    """BERT's WordPiece pipeline (BertPreTokenizer + WordPiece, "##" continuations), vocab 1000, so
    many words split into several pieces — what whole-word and span masking are about."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=1000, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(mlm_text[:200_000].splitlines(), trainer)
    return tok


@pytest.fixture(scope="session")
def mlm_ids(mlm_wordpiece, mlm_text) -> list[int]:
    return mlm_wordpiece.encode(mlm_text).ids


@pytest.fixture(scope="session")
def mlm_docs(mlm_wordpiece, mlm_text) -> list[list[list[int]]]:
    """Documents = speeches (blank-line separated), segments = their lines."""
    speeches = [s.splitlines() for s in mlm_text.split("\n\n") if s.strip()]
    lines = [line for sp in speeches for line in sp]
    encoded = iter(e.ids for e in mlm_wordpiece.encode_batch(lines))
    return [[next(encoded) for _ in sp] for sp in speeches]
