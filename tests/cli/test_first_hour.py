"""README's "Your first hour": every command of that block, read from README.md and run in order in one
working folder (so the runs each command makes feed the next), with tiny model sizes and step counts
swapped in. A README edit that breaks a command breaks this test."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from lmlab.cli import main

ROOT = Path(__file__).parents[2]
TINY_GPT = {"--n_layers": "1", "--d_model": "32", "--n_heads": "2", "--max_seq_len": "32"}
STEPS = {"--eval_batches": "1", "--batch_size": "4", "--quiet": None}
SMALL = {  # what the test swaps in (or adds) per command, so the hour takes seconds
    "train gpt": {**TINY_GPT, "--max_steps": "4", "--eval_every": "4", **STEPS},
    "train gpt --resume": {"--max_steps": "6", "--quiet": None},
    "train bert": {**TINY_GPT, "--d_ff": "64", "--max_len": "32", "--tokenizer_vocab_size": "300",
                   "--max_steps": "3", "--eval_every": "3", **STEPS},
    "generate": {"--max-new-tokens": "8"},
    "finetune classify": {"--max_steps": "2", "--eval_every": "2", "--max_len": "32", **STEPS},
}
EXPECT = {  # what each command must print (stdout and stderr together) or leave behind
    "data list": lambda out: "tinyshakespeare" in out and "tang300" in out,
    "info --preset": lambda out: "124,439,808" in out,
    "train gpt": lambda out: Path("runs/first/model.safetensors").is_file(),
    "generate": lambda out: out.startswith("ROMEO:"),
    "info runs/first": lambda out: "val" in out,
    "train gpt --resume": lambda out: json.loads(Path("runs/first/metrics.jsonl").read_text()
                                                 .splitlines()[-1])["step"] == 6,
    "train bert": lambda out: Path("runs/bert/model.safetensors").is_file(),
    "embed": lambda out: len(json.loads(out[out.index("["):out.rindex("]") + 1])) == 2,
    "finetune classify": lambda out: Path("runs/topics/results.json").is_file(),
    "hf export": lambda out: Path("exported/first/config.json").is_file(),
    "python -c": lambda out: "GPT2Config" in out,
    "explain": lambda out: "softmax" in out.lower(),
}


def first_hour() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Your first hour\n.*?```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no 'Your first hour' block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def kind(argv: list[str]) -> str:
    """The key of SMALL / EXPECT that a command line belongs to (the longest that matches)."""
    line = " ".join(argv)
    keys = [k for k in EXPECT if line.startswith(k) or (k.endswith("--resume") and line.startswith(k[:-9])
                                                      and "--resume" in argv)]
    return max(keys, key=len)


def small(argv: list[str]) -> list[str]:
    argv = list(argv)
    for flag, value in SMALL.get(kind(argv), {}).items():
        if flag in argv:
            if value is not None:
                argv[argv.index(flag) + 1] = value
        else:
            argv += [flag] if value is None else [flag, value]
    return argv


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("first_hour")
    (folder / "tests" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "data" / "fortunes_3topics.jsonl", folder / "tests" / "data")
    return folder


LINES = first_hour()


def test_the_block_has_the_commands_a_new_user_should_try():
    assert 8 <= len(LINES) <= 12
    kinds = {kind(shlex.split(line, comments=True)[1:] if line.startswith("lmlab") else ["python", "-c"])
             for line in LINES}
    assert kinds == set(EXPECT)


@pytest.mark.usefixtures("short_samples")
@pytest.mark.parametrize("line", LINES, ids=[" ".join(line.split()[1:3]) for line in LINES])
def test_command(line, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    words = shlex.split(line, comments=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        if words[:2] == ["python", "-c"]:
            exec(compile(words[2], "<README>", "exec"), {})
            code, key = 0, "python -c"
        else:
            assert words[0] == "lmlab"
            key = kind(words[1:])
            code = main(small(words[1:]))
    printed = out.getvalue()
    assert code == 0, printed
    assert EXPECT[key](printed), printed[-2000:]
