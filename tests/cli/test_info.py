"""`lmlab info` for a preset or a run of every registered family, with the counts the papers publish."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lmlab.cli import main

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_runs"


@pytest.mark.parametrize("preset, family, count", [
    ("gpt2-small", "gpt", "124,439,808"),
    ("bert-base", "bert", "109,482,240"),
    ("transformer-base", "seq2seq", "63,082,496"),
])
def test_a_preset_of_any_family(capsys, preset, family, count):
    assert main(["info", "--preset", preset]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{family} preset {preset}") and f"parameters      {count}" in out
    assert "weights" in out and "embeddings" in out


def test_published_counts_are_shown_exactly_where_they_are_exact(capsys):
    assert main(["info", "--preset", "bert-base"]) == 0
    assert "published     109,482,240 = 109M" in capsys.readouterr().out
    assert main(["info", "--preset", "gpt3-175b"]) == 0
    assert "published     175.0B" in capsys.readouterr().out


def test_an_unknown_preset_lists_every_familys_presets(capsys):
    assert main(["info", "--preset", "gpt5"]) == 2
    err = capsys.readouterr().err
    assert "unknown preset 'gpt5'" in err and "bert-base" in err and "transformer-big" in err and "llama3-8b" in err


@pytest.mark.parametrize("name, family", [("bert", "bert"), ("seq2seq", "seq2seq"),
                                          ("bert-classifier", "bert-classifier"), ("gpt-nf4", "gpt")])
def test_a_run_of_any_family(capsys, tmp_path, name, family):
    run = shutil.copytree(LEGACY / name, tmp_path / name)
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{family} run {run}") and "parameters" in out
    assert ("NF4" in out) == (family == "gpt")


def test_info_help_lists_the_presets(capsys):
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    out = capsys.readouterr().out
    assert "bert: bert-tiny" in out and "seq2seq: transformer-tiny" in out


def test_system_without_measuring(capsys, monkeypatch, tmp_path):
    import torch

    from lmlab.ops.cpu import cpu_info
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path))
    assert main(["info", "--system"]) == 0                 # LMLAB_AUTOTUNE=0 in the tests: nothing timed
    out = capsys.readouterr().out
    info = cpu_info()
    assert f"CPU             {info.model}" in out and ", ".join(info.features()) in out
    assert torch.__version__ in out and f"{info.threads} torch threads" in out
    assert "not measured (LMLAB_AUTOTUNE=0)" in out and "(from the CPU's features" in out
    assert "linear fp32 768->3072" in out and "training --dtype auto" in out
    assert not (tmp_path / "kernels.json").exists()


def test_system_measures_shows_the_cached_timings_and_clears(capsys, monkeypatch, tmp_path):
    from lmlab.ops import autotune
    from lmlab.tools.system import KERNEL_NAMES, LINEAR
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LMLAB_AUTOTUNE", "1")
    autotune._decided.clear()
    choices = {"linear_fp32/768x3072@2048": "torch", "linear_fp32/8x8@64": "onednn", "train_dtype": "fp32", "decode_weights_fp32": "plain",
               "decode_weights_bf16": "packed"}
    entries = {k: {"choice": v, "ms": {v: 1.0, "other": 2.0}} for k, v in choices.items()}
    (tmp_path / "kernels.json").write_text(__import__("json").dumps({autotune.cache_key(): entries}))
    try:
        assert main(["info", "--system"]) == 0             # the kernels from the cache; peak and bandwidth timed
        out = capsys.readouterr().out
        assert "GFLOP/s" in out and "GB/s" in out and "(present)" in out
        assert f"{KERNEL_NAMES[LINEAR]:<24}torch (measured: torch 1.0 ms, other 2.0 ms)" in out
        assert "linear fp32, others     onednn for 1" in out
        monkeypatch.setenv("LMLAB_AUTOTUNE", "0")
        assert main(["info", "--system", "--clear-cache"]) == 0
        assert f"removed {tmp_path / 'kernels.json'}" in capsys.readouterr().out
    finally:
        autotune._decided.clear()


def test_system_with_a_preset_is_refused(cli_fails):
    cli_fails(["info", "--system", "--preset", "nano"], "--system describes this machine")
