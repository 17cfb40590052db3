"""The house's rules, checked on every test run: the import-linter contracts of pyproject.toml (layers that
only point down, no circles inside a package, recipes independent), a parser that imports no torch, files
of a readable size, and tests that mirror the source: every package has its test folder (or one test file
for a package tested as a whole), every command and every trainable family is run by some test."""

from __future__ import annotations

import re
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


def test_every_package_has_its_tests_where_the_source_is():
    """src/lmlab/P/Q/ is tested in tests/P/Q/, or as a whole in tests/P/test_Q*.py (tools/memory in
    tests/tools/test_memory.py); data-only folders (presets' JSON, shipped word lists) need none."""
    src, tests = ROOT / "src" / "lmlab", ROOT / "tests"
    missing = [str(d.relative_to(src)) for d in sorted(src.rglob("*")) if (d / "__init__.py").is_file()
               and d != src and not (tests / d.relative_to(src)).is_dir()
               and not any((tests / d.relative_to(src).parent).glob(f"test_{d.name}*.py"))]
    assert not missing, f"packages without a mirrored tests folder or test file: {missing}"


def _test_sources() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.name != "test_layers.py")


def test_every_command_and_trainable_family_is_run_by_a_test():
    """An argv list starting with the command (main([...]) or a subprocess) in some test; `train FAMILY` too."""
    from lmlab.cli import COMMANDS
    from lmlab.runs.families import trainable
    text = _test_sources()
    unrun = [c for c in COMMANDS if not re.search(rf'\[\s*"{re.escape(c)}"\s*,', text)]
    unrun += [f"train {f.name}" for f in trainable() if not re.search(rf'"train",\s*"{re.escape(f.name)}"', text)]
    assert not unrun, f"commands no test runs: {unrun}"
