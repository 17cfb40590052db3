"""`lmlab fill-mask`: the table and the JSON of lmlab.tools.fill_mask, and one clear line for each bad input.

The model is a tiny random-weight Hugging Face BertForMaskedLM folder (read directly, as the command allows);
what the numbers are is tested in tests/tools/test_fill_mask.py and tests/parity/test_fill_mask_pipeline.py.
"""

from __future__ import annotations

import json

import pytest
import torch

from lmlab.cli import build_parser, main
from lmlab.models.gpt.config import GPTConfig
from lmlab.runs.run import write_run_config
from lmlab.tools.fill_mask import fill_mask, load_masked_lm

transformers = pytest.importorskip("transformers")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", ".", "a", "dog"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("fill_mask_cli") / "hf"
    cfg = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=32)
    torch.manual_seed(0)
    transformers.BertForMaskedLM(cfg).save_pretrained(path)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return path


def test_the_table_shows_each_guess_with_its_probability(folder, capsys):
    assert main(["fill-mask", str(folder), "the cat sat on the [MASK] .", "the [MASK] sat on a [MASK] .",
                 "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    model, tok = load_masked_lm(folder)
    one, two = fill_mask(model, tok, ["the cat sat on the [MASK] .", "the [MASK] sat on a [MASK] ."], top_k=3)
    first, second = out.split("\n\n")
    lines = first.splitlines()
    assert lines[0] == "the cat sat on the [MASK] ." and len(lines) == 4
    assert lines[1].split() == [f"{one[0][0].score:.4f}", one[0][0].token_str, *one[0][0].sequence.split()]
    lines = second.splitlines()
    assert lines[1] == "  [MASK] 1 of 2" and lines[5] == "  [MASK] 2 of 2" and len(lines) == 9
    assert lines[6].split() == [f"{two[1][0].score:.4f}", two[1][0].token_str]


def test_json_has_the_pipelines_keys_per_mask(folder, capsys):
    assert main(["fill-mask", str(folder), "a [MASK] sat on the [MASK] .", "--json", "--top-k", "2"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    model, tok = load_masked_lm(folder)
    (masks,) = fill_mask(model, tok, [row["text"]], top_k=2)
    assert row["masks"] == [[g._asdict() for g in guesses] for guesses in masks]
    assert set(row["masks"][0][0]) == {"score", "token", "token_str", "sequence"}


def test_bad_input_is_one_clear_line(folder, tmp_path, cli_fails):
    cli_fails(["fill-mask", str(folder), "the cat sat"], "text 1 has no [MASK]", "'the cat sat'")
    cli_fails(["fill-mask", str(folder)], "no texts", "[MASK]")
    cli_fails(["fill-mask", str(folder), "the [MASK]", "--top-k", "0"], "--top-k must be at least 1")
    (tmp_path / "gpt").mkdir()
    write_run_config(tmp_path / "gpt", "gpt", {"model": GPTConfig()})
    cli_fails(["fill-mask", str(tmp_path / "gpt"), "the [MASK]"], "'gpt' run", "no masked-LM head")
    cli_fails(["fill-mask", str(tmp_path), "the [MASK]"], "neither an lmlab BERT run")


def test_help_teaches_with_examples():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    text = sub.choices["fill-mask"].format_help()
    assert "pipeline(\"fill-mask\")" in text and 'lmlab fill-mask runs/bert "To be, or not to [MASK]."' in text
