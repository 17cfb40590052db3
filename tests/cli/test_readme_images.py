"""README's image examples (the "# images:" and "# ViT:" blocks), every command read from README.md and run in
order in one working folder, as tests/cli/test_first_hour.py does for "Your first hour": tiny model sizes and
step counts swapped in, my_photos/, seven.png and path/to/vit-base-patch16-224 made first. A README edit
that breaks a command (an export of a run that cannot be exported, a renamed flag) breaks this test."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.data.images import digits_images

ROOT = Path(__file__).parents[2]
STEPS = {"--max_steps": "4", "--eval_every": "4", "--batch_size": "16", "--eval_batches": "2"}
SMALL = {  # what the test swaps in (or adds) per command, so the blocks take seconds
    "train cnn": {"--stem_channels": "8", "--channels": "[8,16]", "--layers": "[1,1]", **STEPS},
    "train vit": {"--d_model": "32", "--n_heads": "2", "--n_layers": "1", "--d_ff": "64", **STEPS},
}
EXPECT = {  # what each command must print (stdout and stderr together) or leave behind, by its --out or first words
    "info --preset resnet50": lambda out: "25,557,032" in out,
    "runs/digits": lambda out: Path("runs/digits/results.json").is_file(),
    "runs/photos": lambda out: Path("runs/photos/model.safetensors").is_file(),
    "classify": lambda out: out.startswith("seven.png"),
    "hf-resnet/": lambda out: Path("hf-resnet/preprocessor_config.json").is_file(),
    "explain receptive-field": lambda out: "18" in out and "25" in out,
    "explain patches": lambda out: "729" in out and "768" in out,
    "info --preset vit-b16": lambda out: "86,567,656" in out,
    "runs/digits-vit": lambda out: "n_patches 49 (7×7, stride 1)" in out and Path("runs/digits-vit/rollout.png").is_file(),
    "runs/vit-b16": lambda out: Path("runs/vit-b16/config.json").is_file(),
    "exported-vit/": lambda out: Path("exported-vit/config.json").is_file(),
}


def readme_block(heading: str) -> list[str]:
    """The command lines under README's comment line `# {heading}`, up to a blank line or the block's end."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"\n# {re.escape(heading)}.*?\n(.*?)(?:\n\n|\n```)", text, re.S)
    assert block, f"README.md has no '# {heading}' block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


LINES = readme_block("images:") + readme_block("ViT:")


def key(argv: list[str]) -> str:
    """The EXPECT key of a command: its --out, or the longest key its words start with."""
    if "--out" in argv:
        return argv[argv.index("--out") + 1]
    return max((k for k in EXPECT if " ".join(argv).startswith(k)), key=len)


def small(argv: list[str]) -> list[str]:
    argv = list(argv)
    for flag, value in SMALL.get(" ".join(argv[:2]), {}).items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """my_photos/ (two classes of RGB images of mixed sizes), seven.png, and a tiny random HF ViT at README's path."""
    from PIL import Image
    from transformers import ViTConfig, ViTForImageClassification
    folder = tmp_path_factory.mktemp("readme_images")
    for cls, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (folder / "my_photos" / cls).mkdir(parents=True)
        for i in range(8):
            Image.new("RGB", (40 + i, 30), colour).save(folder / "my_photos" / cls / f"{i}.jpg")
    next(img for y, img, _ in digits_images() if y == "7").save(folder / "seven.png")
    ViTForImageClassification(ViTConfig(image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=64, num_labels=3)
                              ).save_pretrained(folder / "path" / "to" / "vit-base-patch16-224")
    return folder


def test_the_blocks_are_the_ones_this_test_knows():
    assert sorted(key(shlex.split(line, comments=True)[1:]) for line in LINES) == sorted(EXPECT)


@pytest.mark.parametrize("line", LINES, ids=[" ".join(line.split()[1:3]) for line in LINES])
def test_command(line, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    words = shlex.split(line, comments=True)
    assert words[0] == "lmlab"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(small(words[1:]))
    assert code == 0, out.getvalue()[-2000:]
    assert EXPECT[key(words[1:])](out.getvalue()), out.getvalue()[-2000:]


def test_the_overlapping_vit_is_refused_as_the_readme_says(workdir, monkeypatch, cli_fails):
    """README: "runs/digits-vit is refused: stride ≠ patch size" (made by test_command, or here when run alone)."""
    monkeypatch.chdir(workdir)
    if not Path("runs/digits-vit/config.json").is_file():
        line = next(line for line in LINES if "runs/digits-vit" in line and " train " in f" {line} ")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(small(shlex.split(line, comments=True)[1:])) == 0
    cli_fails(["hf", "export", "runs/digits-vit", "--out", "refused/"], "stride 1 ≠ patch_size 2")
    assert not Path("refused").exists()
