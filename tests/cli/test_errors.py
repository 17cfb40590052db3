"""`lmlab` on bad input: one `error:` line on stderr naming the problem and what to do, a non-zero
exit code, no traceback (unless --debug) and nothing overwritten. Plus the happy paths of the
commands that have no other test: `data list`, `--help`, and the three kinds of `--data`.

The CLI runs in-process (`main([...])`), so the whole file takes seconds, not minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import train_char
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import save_weights
from lmlab.models.gpt import GPT, preset

# a run small enough to train in about a second
QUICK = ["--preset", "tiny", "--max_steps", "3", "--eval_every", "3", "--eval_batches", "1",
         "--batch_size", "2", "--quiet"]




def files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes, to show that a failed command changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


pytestmark = pytest.mark.usefixtures("short_samples")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "shakespeare.txt"
    path.write_text(load_text("tinyshakespeare")[:20_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus) -> Path:
    """A tiny trained run, shared; tests that damage it work on a copy (`run`)."""
    out = tmp_path_factory.mktemp("runs") / "shakespeare"
    assert main(["train", "gpt", "--data", str(corpus), *QUICK, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# ---- 1-4: the data ---------------------------------------------------------------------------------
def test_missing_data_file(cli_fails, capsys, tmp_path):
    cli_fails(["train", "gpt", "--data", str(tmp_path / "nope.txt"), *QUICK, "--out", str(tmp_path / "r")],
          "nope.txt", "lmlab data list")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content", ["", "  \n\t \n"], ids=["empty", "whitespace"])
def test_empty_data_file(cli_fails, capsys, tmp_path, content):
    data = write(tmp_path / "empty.txt", content)
    cli_fails(["train", "gpt", "--data", str(data), *QUICK, "--out", str(tmp_path / "r")], "empty")
    assert not (tmp_path / "r").exists()


def test_empty_data_folder(cli_fails, capsys, tmp_path):
    (tmp_path / "texts").mkdir()
    write(tmp_path / "texts" / "image.png", b"\x89PNG")
    cli_fails(["train", "gpt", "--data", str(tmp_path / "texts"), *QUICK, "--out", str(tmp_path / "r")],
          "no text files")


def test_non_utf8_data_file(cli_fails, capsys, tmp_path):
    data = write(tmp_path / "latin1.txt", "First line\nna\xefve caf\xe9\n".encode("latin-1"))
    cli_fails(["train", "gpt", "--data", str(data), *QUICK, "--out", str(tmp_path / "r")],
          "not UTF-8", "0xef", "byte 13", "line 2", "iconv")
    assert not (tmp_path / "r").exists()


def test_corpus_shorter_than_one_window(cli_fails, capsys, tmp_path):
    data = write(tmp_path / "short.txt", "To be, or not to be.")  # 20 characters
    cli_fails(["train", "gpt", "--data", str(data), *QUICK, "--max_seq_len", "64", "--out", str(tmp_path / "r")],
          "train split", "65", "--max_seq_len")
    assert not (tmp_path / "r").exists()  # a failed start leaves nothing behind


def test_validation_split_shorter_than_one_window(cli_fails, capsys, tmp_path):
    data = write(tmp_path / "short.txt", "To be, or not to be: that is the question. " * 5)  # 215 chars, 21 val
    cli_fails(["train", "gpt", "--data", str(data), *QUICK, "--max_seq_len", "64", "--out", str(tmp_path / "r")],
          "validation split", "--max_seq_len")
    assert not (tmp_path / "r").exists()


# ---- 5: run directories ----------------------------------------------------------------------------
def test_existing_run_is_not_touched(cli_fails, capsys, run, corpus):
    before = files(run)
    cli_fails(["train", "gpt", "--data", str(corpus), *QUICK, "--out", str(run)], "--resume", "--overwrite")
    assert files(run) == before


def test_overwrite_refuses_a_folder_that_is_not_a_run(cli_fails, capsys, tmp_path, corpus):
    folder = tmp_path / "thesis"
    folder.mkdir()
    write(folder / "chapter1.md", "# my only copy")
    cli_fails(["train", "gpt", "--data", str(corpus), *QUICK, "--out", str(folder), "--overwrite"],
          "refusing to --overwrite", "not an lmlab run")
    assert files(folder) == {"chapter1.md": b"# my only copy"}


def test_overwrite_that_fails_to_start_keeps_the_old_run(cli_fails, capsys, run, tmp_path):
    before = files(run)
    empty = write(tmp_path / "empty.txt", "")
    cli_fails(["train", "gpt", "--data", str(empty), *QUICK, "--out", str(run), "--overwrite"], "empty")
    assert files(run) == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["empty.txt", "run"]  # no backup left over


def test_resume_and_overwrite_together(cli_fails, capsys, run):
    before = files(run)
    cli_fails(["train", "gpt", "--out", str(run), "--resume", "--overwrite"], "pick one")
    assert files(run) == before


def test_resume_when_the_corpus_is_gone(cli_fails, capsys, run, tmp_path):
    meta = json.loads((run / "config.json").read_text())
    meta["source"] = str(tmp_path / "moved.txt")
    write(run / "config.json", json.dumps(meta))
    cli_fails(["train", "gpt", "--out", str(run), "--resume", "--max_steps", "6"], "moved.txt", "is gone")


# ---- 6: damaged and mismatched checkpoints ---------------------------------------------------------
def _truncate(path: Path):
    write(path, path.read_bytes()[: path.stat().st_size // 2])


def _garble_head(path: Path):
    write(path, b"\xff" * 64 + path.read_bytes()[64:])


def _garble_middle(path: Path):
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 512] = bytes(range(256)) * 2
    write(path, bytes(raw))


def _config_not_json(path: Path):
    write(path, path.read_text()[:40])


def _config_bad_value(path: Path):
    write(path, path.read_text().replace('"n_layers": 2', '"n_layers": "two"'))


def _config_no_model(path: Path):
    meta = json.loads(path.read_text())
    del meta["model"]
    write(path, json.dumps(meta))


DAMAGE = {
    "weights-truncated": ("model.safetensors", _truncate, "model.safetensors is corrupt"),
    "weights-garbled-header": ("model.safetensors", _garble_head, "model.safetensors is corrupt"),
    "weights-garbled-data": ("model.safetensors", _garble_middle, "checksum"),
    "config-not-json": ("config.json", _config_not_json, "config.json is corrupt"),
    "config-bad-value": ("config.json", _config_bad_value, "n_layers expects int"),
    "config-no-model": ("config.json", _config_no_model, "no 'model'"),
    "tokenizer-garbled": ("tokenizer.json", _config_not_json, "tokenizer.json is not a valid tokenizer"),
}
STATE_DAMAGE = {
    "state-truncated": ("train_state.pt", _truncate, "train_state.pt is corrupt"),
    "state-garbled-header": ("train_state.pt", _garble_head, "train_state.pt is corrupt"),
    "state-garbled-data": ("train_state.pt", _garble_middle, "checksum"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_generate_refuses_a_damaged_run(cli_fails, capsys, run, damage):
    name, spoil, message = DAMAGE[damage]
    spoil(run / name)
    before = files(run)
    line = cli_fails(["generate", str(run), "--prompt", "ROMEO:"], message)
    assert "restore" in line
    assert files(run) == before


@pytest.mark.parametrize("damage", list(DAMAGE) + list(STATE_DAMAGE))
def test_resume_refuses_a_damaged_run(cli_fails, capsys, run, damage):
    name, spoil, message = {**DAMAGE, **STATE_DAMAGE}[damage]
    spoil(run / name)
    before = files(run)
    cli_fails(["train", "gpt", "--out", str(run), "--resume", "--max_steps", "6", "--quiet"], message)
    assert files(run) == before  # config.json too, though the new max_steps was about to be saved


def _weights_of_another_preset(run: Path):
    save_weights(run, GPT(preset("nano", vocab_size=58)), step=3)


def _tokenizer_of_another_corpus(run: Path):
    train_char("".join(chr(0x4E00 + i) for i in range(100))).save(run / "tokenizer.json")


MISMATCH = {"weights-other-preset": (_weights_of_another_preset, "does not match the model in config.json"),
            "tokenizer-other-vocab": (_tokenizer_of_another_corpus, "tokenizer.json has 100 tokens")}


@pytest.mark.parametrize("command", ["generate", "resume"])
@pytest.mark.parametrize("mismatch", list(MISMATCH))
def test_mismatched_checkpoint_files(cli_fails, capsys, run, mismatch, command):
    spoil, message = MISMATCH[mismatch]
    spoil(run)
    before = files(run)
    argv = (["generate", str(run), "--prompt", "ROMEO:"] if command == "generate" else
            ["train", "gpt", "--out", str(run), "--resume", "--max_steps", "6", "--quiet"])
    line = cli_fails(argv, message)
    assert "different runs" in line
    assert files(run) == before


# ---- 7-8: prompts ----------------------------------------------------------------------------------
def test_prompt_with_characters_the_tokenizer_never_saw(cli_fails, capsys, trained):
    cli_fails(["generate", str(trained), "--prompt", "ROMEO: 你好"], "never saw", "'你'", "'好'")


def test_prompt_longer_than_the_context(cli_fails, capsys, trained):
    cli_fails(["generate", str(trained), "--prompt", "a" * 100], "100 tokens", "context is 64", "shorten")


@pytest.mark.parametrize("option", [["--top-k", "-1"], ["--max-new-tokens", "-5"], ["--top-p", "0"],
                                    ["--temperature", "-1"], ["--seed", "x"]])
def test_bad_generate_options(cli_fails, capsys, trained, option):
    cli_fails(["generate", str(trained), "--prompt", "ROMEO:", *option], option[0])


def test_generate_from_a_folder_that_is_not_a_run(cli_fails, capsys, tmp_path):
    cli_fails(["generate", str(tmp_path / "nope")], "does not exist")
    cli_fails(["generate", str(tmp_path)], "no config.json")


# ---- 9: settings -----------------------------------------------------------------------------------
def test_unknown_preset(cli_fails, capsys, tmp_path, corpus):
    cli_fails(["train", "gpt", "--data", str(corpus), "--preset", "gpt5", "--out", str(tmp_path / "r")],
          "unknown preset 'gpt5'", "nano")
    cli_fails(["info", "--preset", "gpt5"], "unknown preset")


def test_unknown_config_key_suggests_the_right_one(cli_fails, capsys, tmp_path, corpus):
    cli_fails(["train", "gpt", "--data", str(corpus), *QUICK, "--n_layer", "2", "--out", str(tmp_path / "r")],
          "unknown config key 'n_layer'", "did you mean --n_layers?")


@pytest.mark.parametrize("flag,value,message", [("--n_layers", "two", "n_layers expects int, got 'two'"),
                                                ("--lr", "fast", "lr expects float"),
                                                ("--tokenizer", "words", "tokenizer must be one of char, bpe"),
                                                ("--n_heads", "3", "divisible"),
                                                ("--optimizer", "lion", "optimizer must be one of sgd"),
                                                ("--schedule", "cyclic", "schedule must be one of")])
def test_badly_typed_or_invalid_value(cli_fails, capsys, tmp_path, corpus, flag, value, message):
    cli_fails(["train", "gpt", "--data", str(corpus), *QUICK, flag, value, "--out", str(tmp_path / "r")], message)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content,message", [
    ("{n_layers: 2", "is not valid JSON"),
    ("[2, 64]", "must hold a JSON object"),
    ('{"n_layer": 2}', "did you mean --n_layers?"),
    ('{"model": {"n_layer": 2}}', "did you mean 'n_layers'?"),
    ('{"model": {"n_layers": 2.5}}', "n_layers expects int, got 2.5"),
    ('{"train": {"lr": "fast"}}', "lr expects float"),
])
def test_bad_config_file(cli_fails, capsys, tmp_path, corpus, content, message):
    config = write(tmp_path / "cfg.json", content)
    cli_fails(["train", "gpt", "--data", str(corpus), *QUICK, "--config", str(config),
                   "--out", str(tmp_path / "r")], str(message))


def test_missing_config_file(cli_fails, capsys, tmp_path, corpus):
    cli_fails(["train", "gpt", "--data", str(corpus), "--config", str(tmp_path / "cfg.json"),
                   "--out", str(tmp_path / "r")], "config file not found")


def test_usage_mistakes_are_one_line_too(cli_fails, capsys, corpus):
    cli_fails(["train", "gpt", "--data", str(corpus)], "--out", "lmlab train gpt --help")
    cli_fails(["generate"], "run", "lmlab generate --help")
    cli_fails(["frobnicate"], "invalid choice")
    cli_fails(["train"], "lmlab train gpt")


def test_resume_may_change_only_training_keys(cli_fails, capsys, run):
    cli_fails(["train", "gpt", "--out", str(run), "--resume", "--n_layers", "3"], "only training keys")


# ---- 10: --debug -----------------------------------------------------------------------------------
def test_debug_raises_instead_of_printing_one_line(tmp_path):
    with pytest.raises(LmlabError, match="neither a bundled corpus"):
        main(["train", "gpt", "--data", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "r"), "--debug"])


def test_debug_shows_the_traceback_from_the_command_line(tmp_path):
    cmd = [sys.executable, "-m", "lmlab.cli", "--debug", "info", "--preset", "gpt5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "LmlabError: unknown preset 'gpt5'" in proc.stderr


# ---- what works ------------------------------------------------------------------------------------
def test_data_list(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert "MiB" in rows["tinyshakespeare"] and "1,115,394" in rows["tinyshakespeare"]
    assert "KiB" in rows["tang300"]


@pytest.mark.parametrize("argv", [[], ["train"], ["train", "gpt"], ["generate"], ["info"], ["data"],
                                  ["data", "list"], ["convert"], ["convert", "gqa"], ["train", "bert"]])
def test_help(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lmlab")
    if argv in (["train", "gpt"], ["generate"]):
        assert "default" in out
    if argv == ["train", "gpt"]:
        assert "--n_layers" in out and "--max_steps" in out  # every config key, with its default


def test_generate_and_info_on_a_good_run(capsys, trained):
    assert main(["generate", str(trained), "--prompt", "ROMEO:", "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.startswith("ROMEO:")
    assert main(["info", str(trained)]) == 0
    assert "trained         3 steps" in capsys.readouterr().out


def test_generate_decoding_options(capsys, trained):
    base = ["generate", str(trained), "--max-new-tokens", "12", "--temperature", "0"]
    assert main([*base, "--prompt", "ROMEO:"]) == 0
    greedy = capsys.readouterr().out.strip()
    assert main([*base, "--prompt", "ROMEO:", "--no-cache", "--backend", "flash"]) == 0
    assert capsys.readouterr().out.strip() == greedy               # same tokens without the cache
    assert main([*base, "--prompt", "ROMEO:", "--prompt", "JULIET:", "--num-beams", "3"]) == 0
    out = capsys.readouterr().out
    assert "=== 1 ===\nROMEO:" in out and "=== 2 ===\nJULIET:" in out
    assert main([*base, "--prompt", "ROMEO:", "--show-probs"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") >= 12 and "alternatives" in out and f"text: {greedy}" in out
    assert main(["generate", str(trained), "--prompt", "ROMEO:", "--temperature", "0.8", "--top-p", "0.9",
                 "--min-p", "0.05", "--repetition-penalty", "1.2", "--no-repeat-ngram", "3",
                 "--max-new-tokens", "40", "--stop", "e"]) == 0
    out = capsys.readouterr().out.rstrip("\n")
    assert out.startswith("ROMEO:") and (out.endswith("e") or len(out) == len("ROMEO:") + 40)


@pytest.mark.parametrize("option", [["--num-beams", "0"], ["--min-p", "2"], ["--repetition-penalty", "0"],
                                    ["--no-repeat-ngram", "-1"]])
def test_bad_decoding_options(cli_fails, capsys, trained, option):
    cli_fails(["generate", str(trained), *option], option[0])


def test_show_probs_needs_one_prompt_without_beams(cli_fails, capsys, trained):
    cli_fails(["generate", str(trained), "--show-probs", "--num-beams", "2"], "--show-probs")


def test_info_shows_kv_cache_bytes(capsys):
    assert main(["info", "--preset", "llama3-8b"]) == 0
    out = capsys.readouterr().out
    assert "KV cache        128.0 KiB per token in bf16" in out and "8 kv heads" in out


def test_convert_gqa(cli_fails, capsys, trained, tmp_path):
    out = tmp_path / "gqa"
    assert main(["convert", "gqa", str(trained), "--n-kv-heads", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "validation loss" in printed and "before" in printed
    assert main(["info", str(out)]) == 0
    assert "n_kv_heads      1" in capsys.readouterr().out
    assert main(["generate", str(out), "--prompt", "RO", "--max-new-tokens", "3"]) == 0
    cli_fails(["convert", "gqa", str(trained), "--n-kv-heads", "1", "--out", str(out)], "--overwrite")
    cli_fails(["convert", "gqa", str(trained), "--n-kv-heads", "3", "--out", str(tmp_path / "x")], "divide")
    cli_fails(["convert", "gqa", str(out), "--n-kv-heads", "1", "--out", str(tmp_path / "y")], "multi-head")


def test_data_can_be_a_bundled_name_or_a_folder(capsys, tmp_path, corpus):
    folder = tmp_path / "texts"
    (folder / "more").mkdir(parents=True)
    shutil.copy(corpus, folder / "a.txt")
    shutil.copy(corpus, folder / "more" / "b.md")
    one_step = ["--max_steps", "1", "--eval_every", "1"]
    for data, out in (("tang300", "tang"), (str(folder), "folder")):
        assert main(["train", "gpt", "--data", data, *QUICK, *one_step, "--out", str(tmp_path / out)]) == 0
        meta = json.loads((tmp_path / out / "config.json").read_text())
        assert (tmp_path / out / "model.safetensors").is_file()
    assert meta["source"] == str(folder.resolve())  # absolute, so --resume works from anywhere
    capsys.readouterr()


def test_a_file_is_recorded_by_absolute_path(trained, corpus):
    assert json.loads((trained / "config.json").read_text())["source"] == str(corpus.resolve())


def test_overwrite_replaces_a_run(run, corpus):
    old_weights = (run / "model.safetensors").read_bytes()
    argv = ["train", "gpt", "--data", str(corpus), *QUICK, "--max_steps", "1", "--eval_every", "1"]
    assert main([*argv, "--out", str(run), "--overwrite"]) == 0
    assert (run / "model.safetensors").read_bytes() != old_weights
    assert sorted(p.name for p in run.parent.iterdir()) == ["run"]  # the old run, moved aside, is gone


def test_resume_from_another_directory(capsys, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "gpt", "--out", "run", "--resume", "--max_steps", "4", "--quiet"]) == 0
    assert main(["info", "run"]) == 0
    assert "trained         4 steps" in capsys.readouterr().out


def test_train_bert_from_the_command_line(cli_fails, capsys, corpus, tmp_path):
    out = tmp_path / "bert"
    assert main(["train", "bert", "--data", str(corpus), "--preset", "bert-tiny", "--max_steps", "4",
                 "--eval_every", "4", "--eval_batches", "1", "--batch_size", "4", "--tokenizer_vocab_size", "300",
                 "--quiet", "--out", str(out)]) == 0
    assert "val_mlm_acc" in capsys.readouterr().out and (out / "model.safetensors").is_file()
    cli_fails(["train", "bert", "--data", str(corpus), "--masking", "words", "--out", str(tmp_path / "x")],
          "masking must be one of token, whole_word, span")
    cli_fails(["train", "bert", "--data", str(corpus), "--out", str(out)], "--overwrite")
    # resume: more steps from the checkpoint; model and data keys stay the run's
    assert main(["train", "bert", "--out", str(out), "--resume", "--max_steps", "6", "--eval_every", "2",
                 "--quiet"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 6 and steps == sorted(steps)
    cli_fails(["train", "bert", "--out", str(out), "--resume", "--masking", "span"], "keeps its model, data")
    cli_fails(["train", "bert", "--out", str(tmp_path / "nothing"), "--resume"], "nothing")


def test_finetune_classify_from_the_command_line(cli_fails, capsys, corpus, tmp_path):
    bert, out = tmp_path / "bert", tmp_path / "cls"
    assert main(["train", "bert", "--data", str(corpus), "--max_steps", "2", "--eval_every", "2", "--eval_batches",
                 "1", "--batch_size", "4", "--tokenizer_vocab_size", "300", "--quiet", "--out", str(bert)]) == 0
    data = Path(__file__).parents[1] / "data" / "fortunes_3topics.jsonl"
    quick = ["--max_steps", "3", "--eval_every", "3", "--batch_size", "8", "--warmup_steps", "1", "--quiet"]
    assert main(["finetune", "classify", "--model", str(bert), "--data", str(data), "--truncation", "head+tail",
                 "--max-len", "32", "--freeze-layers", "1", "--labels", "food,law", *quick, "--out", str(out)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    meta = json.loads((out / "config.json").read_text())
    assert results["labels"] == ["food", "law"] and (out / "confusion.png").is_file()
    assert meta["data"]["truncation"] == "head+tail" and meta["finetune"]["freeze_layers"] == 1
    assert meta["train"]["max_steps"] == 3 and meta["train"]["lr"] == 1e-4  # the fine-tuning default

    (tmp_path / "reviews.csv").write_text("review,stars\ngood,5\nbad,1\n", encoding="utf-8")
    base = ["finetune", "classify", "--model", str(bert), *quick]
    cli_fails(["finetune"], "lmlab finetune classify")
    with pytest.raises(SystemExit):
        main(["finetune", "classify", "--help"])
    assert "--freeze_layers" in capsys.readouterr().out
    cli_fails([*base, "--data", str(data)], "--out")
    cli_fails([*base, "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x")], "does not exist")
    cli_fails([*base, "--data", str(tmp_path / "reviews.csv"), "--out", str(tmp_path / "x")],
          "no column 'text', 'label'", "--text-column")
    cli_fails([*base, "--data", str(data), "--truncation", "middle", "--out", str(tmp_path / "x")],
          "invalid choice: 'middle'")
    cli_fails([*base, "--data", str(data), "--freeze-layers", "5", "--out", str(tmp_path / "x")],
          "freeze_layers 5 is more than the encoder's 2 layers")
    cli_fails([*base, "--data", str(data), "--max-len", "1000", "--out", str(tmp_path / "x")], "lower --max-len")
    cli_fails([*base, "--data", str(data), "--strides", "3", "--out", str(tmp_path / "x")],
          "unknown config key 'strides'", "--stride")
    cli_fails(["finetune", "classify", "--model", str(tmp_path), "--data", str(data), "--out", str(tmp_path / "x")],
          "neither an lmlab BERT run")
    cli_fails([*base, "--data", str(data), "--out", str(out)], "--overwrite")
    assert not (tmp_path / "x").exists()


def test_info_of_a_cnn_preset(capsys):
    assert main(["info", "--preset", "alexnet"]) == 0
    out = capsys.readouterr().out
    assert "lrn             True" in out and "62,378,344" in out
