"""`lmlab train bert --init RUN_OR_HF_FOLDER` from the command line: it continues a BERT on new text (data keys
may change), resumes, and refuses in one line what would change the model (a shape key, --preset,
--tokenizer), a non-BERT init, LoRA without an init, and a max_len beyond the init's positions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.train.metrics import read_metrics

DEBIAN = Path(__file__).parents[1] / "data" / "debian_descriptions_480.txt"
QUICK = ["--max_steps", "6", "--eval_every", "3", "--eval_batches", "1", "--batch_size", "8", "--warmup_steps", "2",
         "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def base(tmp_path_factory, shakespeare_small) -> Path:
    out = tmp_path_factory.mktemp("bert") / "base"
    assert main(["train", "bert", "--data", str(shakespeare_small), "--preset", "bert-tiny", "--max_seq_len", "64",
                 "--tokenizer_vocab_size", "400", "--max_len", "48", *QUICK, "--out", str(out)]) == 0
    return out


def test_continue_on_new_text_then_resume(base, tmp_path, capsys):
    out = tmp_path / "cont"
    assert main(["train", "bert", "--init", str(base), "--data", str(DEBIAN), "--max_len", "32", "--masking",
                 "whole_word", "--sentence_task", "none", "--lr", "5e-4", *QUICK, "--out", str(out)]) == 0
    meta = json.loads((out / "config.json").read_text())
    assert meta["init"] == str(base) and meta["data"]["masking"] == "whole_word" and meta["train"]["lr"] == 5e-4
    assert main(["train", "bert", "--out", str(out), "--resume", "--max_steps", "9", "--quiet"]) == 0
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl") if "val_mlm_loss" in r] == [0, 3, 6, 9]


@pytest.mark.parametrize("argv,needles", [
    (["--d_model", "64"], ("drop --preset and model keys", "--d_model")),
    (["--max_seq_len", "128"], ("--max_seq_len",)),
    (["--preset", "bert-mini"], ("drop --preset",)),
    (["--tokenizer", "vocab.txt"], ("brings its own tokenizer", "drop --tokenizer")),
    (["--max_len", "128"], ("max_len 128 is longer than the 64 positions",)),
    (["--tokenizer_vocab_size", "900"], ("brings its own tokenizer", "drop --tokenizer_vocab_size")),
])
def test_what_would_change_the_model_is_refused(base, tmp_path, cli_fails, argv, needles):
    cli_fails(["train", "bert", "--init", str(base), "--data", str(DEBIAN), *argv, "--out", str(tmp_path / "x")],
              *needles)
    assert not (tmp_path / "x").exists()


def test_a_gpt_init_and_lora_without_init_are_refused(tmp_path, cli_fails):
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text(json.dumps({"family": "gpt", "model": {}}))
    cli_fails(["train", "bert", "--init", str(tmp_path / "gpt"), "--data", str(DEBIAN), "--out", str(tmp_path / "x")],
              "holds a 'gpt' run", "Hugging Face BERT folder")
    cli_fails(["train", "bert", "--data", str(DEBIAN), "--lora", "r=4", "--out", str(tmp_path / "x")],
              "without --init that base is random", "--init RUN_OR_HF_FOLDER")
    assert not (tmp_path / "x").exists()
