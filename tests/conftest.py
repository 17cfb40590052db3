"""Shared fixtures: small real text, kept tiny so the suite stays fast on 2 cores."""

from __future__ import annotations

import pytest
import torch

from lmlab.data.corpora import load_text


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shakespeare_small(tmp_path_factory):
    """The first 30k characters of Tiny Shakespeare as a text file."""
    path = tmp_path_factory.mktemp("data") / "shakespeare_small.txt"
    path.write_text(load_text("tinyshakespeare")[:30_000], encoding="utf-8")
    return path
