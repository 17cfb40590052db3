"""Shared fixtures: small real text, kept tiny so the suite stays fast on 2 cores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from lmlab.data.corpora import load_text

# Kernel choices follow the CPU's features in tests (no timing, nothing written to ~/.cache/lmlab);
# tests/ops/test_autotune.py turns measurement on against a temporary cache.
os.environ.setdefault("LMLAB_AUTOTUNE", "0")


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
        capsys.readouterr()  # what earlier commands of the test printed (a warning, a note) is theirs
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
        mp.setattr("lmlab.train.callbacks.SAMPLE_TOKENS", 8)
        yield


FORTUNES_3TOPICS = Path(__file__).parent / "data" / "fortunes_3topics.jsonl"


@pytest.fixture(scope="session")
def pretrain_fortunes_bert():
    """A function that pretrains a bert-tiny (MLM, no dropout) on the test fortunes, one per paragraph, into
    FOLDER/run beside FOLDER/corpus.txt, and returns the run: pretrain(folder, steps, vocab, max_len, batch, lr)."""
    from lmlab.data.bert_pretraining import BertDataConfig
    from lmlab.models.bert import preset
    from lmlab.recipes.pretrain_bert import pretrain_bert
    from lmlab.train.config import TrainConfig

    def pretrain(folder: Path, steps: int, vocab: int, max_len: int, batch: int, lr: float) -> Path:
        texts = [" ".join(json.loads(line)["text"].split()) for line in FORTUNES_3TOPICS.read_text().splitlines()]
        (folder / "corpus.txt").write_text("\n\n".join(texts), encoding="utf-8")
        train = TrainConfig(max_steps=steps, batch_size=batch, eval_every=steps, eval_batches=1, warmup_steps=2,
                            lr=lr, min_lr=lr / 10, weight_decay=0.01, device="cpu")
        pretrain_bert(str(folder / "corpus.txt"), preset("bert-tiny", dropout=0.0), train,
                      BertDataConfig(tokenizer_vocab_size=vocab, max_len=max_len, sentence_task="none"),
                      folder / "run", quiet=True)
        return folder / "run"
    return pretrain


@pytest.fixture
def run_in_child():
    """A function that runs `fn()` in a forked child process with the environment `env` added and returns its
    exit status: the way to end a real lmlab process at a write point (LMLAB_FAULT=kill:K, lmlab.io.atomic)
    without paying a fresh interpreter's start-up each time. The child uses one thread (a forked OpenMP
    pool is not safe) and never returns into pytest."""
    import os

    def run(fn, env: dict[str, str]) -> int:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                import lmlab.io.atomic as atomic
                torch.set_num_threads(1)
                os.environ.update(env)
                atomic._points = 0
                result = fn()
                code = result if isinstance(result, int) else 0
            except BaseException:  # noqa: BLE001 - the child must end here, whatever happened
                import traceback
                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    return run


@pytest.fixture
def tmpfs(tmp_path):
    """A function that mounts a tmpfs of `size` (e.g. "2m") in a new folder and returns it: a real full disk
    for the tests. Needs root (skipped otherwise); unmounted after the test."""
    import os
    import subprocess
    mounted = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a full disk is simulated with a small tmpfs, which needs root to mount")
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder
    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


ELMO_STEPS = 30


@pytest.fixture(scope="session")
def elmo_run(shakespeare_small, tmp_path_factory):
    """A tiny ELMo trained for ELMO_STEPS steps on shakespeare_small (about 10 s): returns (run folder, the
    final evaluation)."""
    from lmlab.data.word_chars import WordDataConfig
    from lmlab.models.elmo import ElmoConfig
    from lmlab.recipes.train_elmo import train_elmo
    from lmlab.train.config import TrainConfig

    out = tmp_path_factory.mktemp("elmo") / "run"
    cfg = ElmoConfig(max_chars=20, char_dim=8, filters=((1, 16), (2, 16), (3, 32)), n_highway=1, d_model=32,
                     d_hidden=64, dropout=0.0, max_seq_len=16)
    train = TrainConfig(max_steps=ELMO_STEPS, batch_size=16, lr=3e-3, warmup_steps=2, eval_every=ELMO_STEPS,
                        eval_batches=2, log_every=5, device="cpu")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        final = train_elmo(str(shakespeare_small), cfg, train, WordDataConfig(max_vocab=500), out, quiet=True)
    finally:
        torch.set_num_threads(n)
    return out, final


@pytest.fixture
def autotune_cache(tmp_path, monkeypatch):
    """Kernel autotuning on (the suite runs with LMLAB_AUTOTUNE=0), against an empty cache in a temporary
    folder; this process's decisions forgotten before and after. Yields the cache file's path."""
    from lmlab.ops import autotune
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LMLAB_AUTOTUNE", "1")
    autotune._decided.clear()
    yield tmp_path / "cache" / "kernels.json"
    autotune._decided.clear()
