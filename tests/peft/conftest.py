"""Fixtures shared by the LoRA and QLoRA run tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bert_run(tmp_path_factory, pretrain_fortunes_bert) -> Path:
    """A bert-tiny run pretrained 4 steps on the test fortunes, beside its corpus.txt."""
    return pretrain_fortunes_bert(tmp_path_factory.mktemp("bert"), steps=4, vocab=600, max_len=32, batch=8, lr=3e-3)
