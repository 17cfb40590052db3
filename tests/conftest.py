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


@pytest.fixture
def cli_fails(capsys):
    """Run the CLI expecting a clean failure: exit 2, one `error:` line containing every needle, no traceback.
    Returns that line."""
    from lmlab.cli import main

    def check(argv: list[str], *needles: str) -> str:
        code = main(argv)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert "Traceback" not in err
        assert len(lines) == 1 and lines[0].startswith("error:"), err
        assert code == 2, f"exit {code}: not an LmlabError, so an unchecked input ({lines[0]})"
        for needle in needles:
            assert needle in lines[0], lines[0]
        return lines[0]
    return check


@pytest.fixture(scope="module")
def short_samples():
    """Training writes a 200-token sample at each evaluation; 8 tokens show the same wiring, faster.
    A module opts in with `pytestmark = pytest.mark.usefixtures("short_samples")`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("lmlab.recipes.pretrain_gpt.SAMPLE_TOKENS", 8)
        yield
