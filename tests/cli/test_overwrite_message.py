"""An `--out` that already holds something (issue 18, defect 4): the command stops with one line that names
the flags a user can type (`--overwrite`, and for a run `--resume`), never Python ("overwrite=True"), and
leaves the folder as it was. tests/io/test_atomic.py checks the message of the function that writes exported
folders; this checks what the user sees at the command line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LEGACY = ROOT / "tests" / "data" / "legacy_runs"
CORPUS = LEGACY / "corpora" / "shakespeare5k.txt"
QUICK = ["--preset", "tiny", "--max_steps", "1", "--eval_every", "1", "--eval_batches", "1", "--batch_size", "2",
         "--quiet"]
PYTHON = re.compile(r"\b\w+=(True|False|None)\b|Traceback|PosixPath\(|LmlabError|\bargs\.")


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(params=["notes", "run"])
def taken(request, tmp_path) -> Path:
    """An --out that is not empty: a folder with a user's file in it, or an lmlab run."""
    if request.param == "run":
        return Path(shutil.copytree(LEGACY / "gpt", tmp_path / "taken"))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("my only copy\n", encoding="utf-8")
    return tmp_path / "taken"


@pytest.mark.parametrize("command", ["train gpt", "hf export"])
def test_a_folder_that_is_not_empty_names_the_flags(command, taken, cli_fails):
    argv = (["train", "gpt", "--data", str(CORPUS), *QUICK] if command == "train gpt"
            else ["hf", "export", str(LEGACY / "gpt")]) + ["--out", str(taken)]
    before = files(taken)
    line = cli_fails(argv, str(taken), "--overwrite", *(["--resume"] if command == "train gpt" else []))
    assert not PYTHON.search(line), line
    assert files(taken) == before


def test_the_lmlab_process_says_it_in_one_line(tmp_path):
    """The real process (its entry point, its exit status): one `error:` line on stderr, nothing on stdout."""
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("my only copy\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "lmlab.cli", "train", "gpt", "--data", str(CORPUS), *QUICK,
                           "--out", str(out)], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "LMLAB_AUTOTUNE": "0"})
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"error: {out} already exists and is not empty; continue it with --resume, "
                                        "start over with --overwrite, or choose another --out"], proc.stderr
    assert files(out) == {"notes.txt": b"my only copy\n"}
