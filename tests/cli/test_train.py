"""`lmlab train FAMILY` and the small things users notice (issue 18, defect 8): the keys help shows the
effective defaults and the choices of fixed-choice keys, a value outside them is one error listing them,
a warm-up longer than max_steps is warned about, `--resume --max_steps` below the run's step is refused,
the "sample with" hint is quoted for a path with spaces, and a CJK run name makes no glyph warnings."""

from __future__ import annotations

import shlex
import warnings
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.data.corpora import load_text

QUICK = ["--preset", "tiny", "--max_steps", "3", "--eval_every", "3", "--eval_batches", "1", "--batch_size", "2",
         "--quiet"]
pytestmark = pytest.mark.usefixtures("short_samples")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str, list]:
    """A tiny run in a folder whose name has a space and Chinese characters: (run, stderr, Python warnings)."""
    root = tmp_path_factory.mktemp("runs")
    corpus = root / "corpus.txt"
    corpus.write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    out = root / "my runs" / "唐诗 1"
    import contextlib
    import io
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()) as stdout:
        warnings.simplefilter("always")
        assert main(["train", "gpt", "--data", str(corpus), *QUICK, "--out", str(out)]) == 0
    return out, err.getvalue() + "\n" + stdout.getvalue(), caught


def help_text(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def test_keys_help_shows_the_effective_defaults_and_the_choices(capsys):
    text = help_text(capsys, ["train", "gpt"])
    keys = text[text.index("config keys"):]
    assert "--vocab_size         default 65" in keys and "--d_model            default 128" in keys  # nano
    assert "50257" not in keys and "768" not in keys
    for line in ("--attn_backend       default 'auto'", "--optimizer          default 'torch-adamw'",
                 "--schedule           default 'warmup_cosine'", "--dtype              default 'fp32'"):
        assert line in keys
    assert "one of: naive, flash, bmm, sdpa" in keys and "one of: fp32, bf16, fp16" in keys
    assert "warmup_linear, inverse_sqrt" in keys and "nesterov" in keys and "one of: learned, sinusoidal, rotary" in keys
    bert = help_text(capsys, ["train", "bert"])
    assert "one of: token, whole_word, span" in bert and "one of: nsp, sop, none" in bert
    assert "one of: head, tail, head+tail, sliding-window" in help_text(capsys, ["finetune", "classify"])


@pytest.mark.parametrize("family,key,value,choices", [
    ("bert", "masking", "wholeword", "token, whole_word, span"),
    ("bert", "sentence_task", "NSP", "nsp, sop, none"),
    ("gpt", "optimizer", "adamax", "sgd, momentum, nesterov"),
    ("gpt", "schedule", "cosine", "constant, warmup_cosine"),
    ("gpt", "attn_backend", "flash2", "naive, flash, bmm, sdpa"),
    ("seq2seq", "dtype", "float16", "fp32, bf16, fp16"),
])
def test_a_value_outside_the_choices_lists_them(cli_fails, tmp_path, family, key, value, choices):
    cli_fails(["train", family, "--data", "tinyshakespeare", f"--{key}", value, "--out", str(tmp_path / "r")],
              f"{key} must be one of {choices}", value)
    assert not (tmp_path / "r").exists()


def test_the_hint_is_quoted_for_a_path_with_spaces(trained):
    out, err, _ = trained
    assert f"lmlab generate {shlex.quote(str(out))}" in err


def test_a_warmup_longer_than_max_steps_is_warned_about(trained):
    assert "warning: warmup_steps 100 ≥ max_steps 3: the learning rate rises for the whole run" in trained[1]


def test_a_cjk_run_name_draws_without_glyph_warnings(trained):
    out, err, caught = trained
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert not [w for w in caught if "Glyph" in str(w.message)], [str(w.message) for w in caught]
    from lmlab.train.fonts import cjk_fonts
    if not cjk_fonts():  # no font here with the glyphs: said once, not at every checkpoint
        assert err.count("no font with Chinese/Japanese/Korean glyphs") == 1


def test_resume_with_max_steps_below_the_run_step_is_refused(cli_fails, trained):
    out = trained[0]
    before = (out / "config.json").read_bytes()
    for steps in ("2", "3"):
        cli_fails(["train", "gpt", "--out", str(out), "--resume", "--max_steps", steps, "--quiet"],
                  "already at step 3", f"max_steps is {steps}", "--max_steps above 3")
    assert (out / "config.json").read_bytes() == before
