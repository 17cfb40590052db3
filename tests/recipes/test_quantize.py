"""`lmlab quantize nf4` end to end: the quantised run, `lmlab info` on it, `lmlab generate` from it, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.data.corpora import load_text
from lmlab.nn.nf4_linear import NF4Linear, nf4_layers
from lmlab.runs.run import Run


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("quantize")
    corpus = root / "shakespeare.txt"
    corpus.write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    out = root / "run"
    assert main(["train", "gpt", "--data", str(corpus), "--preset", "tiny", "--max_steps", "5", "--eval_every",
                 "5", "--eval_batches", "1", "--batch_size", "4", "--quiet", "--out", str(out)]) == 0
    return out


def test_quantize_writes_a_run_that_info_describes_and_generate_samples(capsys, trained):
    assert main(["quantize", "nf4", str(trained)]) == 0
    out = trained.with_name("run-nf4")
    assert "bits per weight" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.json", "config.json", "model.safetensors",
                                                     "tokenizer.json"]
    q = json.loads((out / "config.json").read_text())["quantization"]
    assert q["double_quant"] and q["bits_per_weight"] == pytest.approx(4.127, abs=0.02)
    assert abs(q["val_loss_after"] - q["val_loss_before"]) < 0.1        # 4 bits cost little
    assert (out / "model.safetensors").stat().st_size < 0.6 * (trained / "model.safetensors").stat().st_size

    model = Run.open(out).model(plain=False)
    assert len(nf4_layers(model)) == q["layers"] and all(isinstance(m, NF4Linear) for m in nf4_layers(model).values())

    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "NF4" in text and "bytes per quantised weight" in text and "perplexity" in text
    assert main(["generate", str(out), "--prompt", "ROMEO:", "--max-new-tokens", "5", "--temperature", "0"]) == 0
    assert capsys.readouterr().out.startswith("ROMEO:")


def test_without_double_quant_it_is_4_5_bits(trained, tmp_path):
    out = tmp_path / "q45"
    assert main(["quantize", "nf4", str(trained), "--out", str(out), "--no-double-quant"]) == 0
    q = json.loads((out / "config.json").read_text())["quantization"]
    assert not q["double_quant"] and q["bits_per_weight"] == pytest.approx(4.5, abs=0.02)


def test_refusals(cli_fails, trained, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("mine")
    cli_fails(["quantize", "nf4", str(trained), "--out", str(taken)], "not empty")
    cli_fails(["quantize", "nf4", str(trained), "--out", str(tmp_path / "b"), "--block-size", "63"], "block")
    cli_fails(["quantize", "nf4", str(tmp_path / "nope")], "does not exist")
    assert main(["quantize", "nf4", str(trained), "--out", str(tmp_path / "q")]) == 0
    cli_fails(["quantize", "nf4", str(tmp_path / "q"), "--out", str(tmp_path / "qq")], "already quantised")
