"""lmlab.recipes.train_elmo: a few dozen steps on a Tiny Shakespeare sample lower both LMs' losses, each
direction's perplexity is logged, the run folder holds what Run and `lmlab embed --tokens` need, resume
continues it, and `lmlab train elmo` / `lmlab info` take it."""

from __future__ import annotations

import json
import math

from lmlab.cli import main
from lmlab.data.word_chars import load_vocab
from lmlab.models.elmo.model import Elmo
from lmlab.runs.run import Run
from lmlab.train.metrics import read_metrics


def test_loss_falls_and_each_direction_reports_its_perplexity(elmo_run):
    run, final = elmo_run
    rows = read_metrics(run / "metrics.jsonl")
    train = [r["loss"] for r in rows if "loss" in r]
    assert train[-1] < train[0] - 2.0                    # from ~2 ln(500) ≈ 12.4 nats down
    assert final["val_loss"] < 2 * math.log(500) - 2.0
    assert math.isclose(final["val_fwd_ppl"], math.exp(final["val_fwd_nll"]))
    assert math.isclose(final["val_loss"], final["val_fwd_nll"] + final["val_bwd_nll"], rel_tol=1e-5)
    assert final["val_fwd_ppl"] < 500 and final["val_bwd_ppl"] < 500   # better than a uniform guess


def test_the_run_folder_loads(elmo_run):
    run, _ = elmo_run
    meta = json.loads((run / "config.json").read_text())
    assert meta["family"] == "elmo" and meta["model"]["vocab_size"] == 500
    vocab = load_vocab(run / "vocab.txt")
    assert len(vocab) == 500 and vocab[0] == "<unk>"
    model = Run.open(run, family="elmo").model()
    assert isinstance(model, Elmo) and model.cfg.vocab_size == 500


def test_resume_continues_the_run(elmo_run, tmp_path):
    import shutil

    from lmlab.recipes.train_elmo import train_elmo
    run, _ = elmo_run
    steps = read_metrics(run / "metrics.jsonl")[-1]["step"]
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    cfg = Run.open(copy).config("train")
    from dataclasses import replace
    train_elmo(None, None, replace(cfg, max_steps=steps + 2, eval_every=2), None, copy, resume=True,
               quiet=True)
    assert read_metrics(copy / "metrics.jsonl")[-1]["step"] == steps + 2


def test_cli_trains_and_info_shows_it(shakespeare_small, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["train", "elmo", "--data", str(shakespeare_small), "--out", str(out), "--quiet", "--max_steps", "2",
            "--batch_size", "4", "--eval_every", "2", "--eval_batches", "1", "--d_model", "16", "--d_hidden", "32",
            "--filters", "[[1, 8], [2, 8]]", "--max_vocab", "100", "--device", "cpu"]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "val_fwd_ppl" in said and "lmlab embed" in said and "--tokens" in said
    assert main(["info", str(out)]) == 0
    said = capsys.readouterr().out
    assert "elmo run" in said and "fwd_ppl" in said and "filters         ((1, 8), (2, 8))" in said


def test_info_of_the_original_preset_gives_the_papers_size(capsys):
    assert main(["info", "--preset", "original"]) == 0
    assert "93,600,848" in capsys.readouterr().out
