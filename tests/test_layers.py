"""The house's rules, checked on every test run: the import-linter contracts of pyproject.toml (layers that
only point down, no circles inside a package, recipes independent), a parser that imports no torch, and
files of a readable size."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is missing: `make test` installs import-linter with the test extras")
    out = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_building_the_parser_imports_no_torch():
    code = "import sys; from lmlab.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_source_files_stay_readable():
    src = ROOT / "src" / "lmlab"
    long = {str(p.relative_to(src)): n for p in src.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"files over 400 lines (split them by concept): {long}"
    cli = {p.name: n for p in (src / "cli").glob("*.py") if (n := len(p.read_text().splitlines())) > 200}
    assert not cli, f"cli modules over 200 lines (move logic down a layer): {cli}"


def test_a_command_option_takes_either_spelling():
    from lmlab.cli import build_parser
    args, extra = build_parser().parse_known_args(["generate", "RUN", "--max_new_tokens", "7", "--top-k=3"])
    assert (args.max_new_tokens, args.top_k, extra) == (7, 3, [])
    args, extra = build_parser().parse_known_args(["finetune", "classify", "--model", "M", "--data", "D",
                                                   "--out", "O", "--max_len", "64", "--max_steps", "5"])
    assert args.max_len == 64 and extra == ["--max_steps", "5"]   # a config key stays a config key
