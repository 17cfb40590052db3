"""`lmlab distill`: a GPT and a BERT teacher run distilled into ordinary student runs."""

from __future__ import annotations

import json

import pytest
import torch

from lmlab.data.bert_pretraining import BertDataConfig
from lmlab.data.lm_config import LMDataConfig
from lmlab.distill import DistillConfig
from lmlab.models.bert import preset as bert_preset
from lmlab.models.gpt import preset as gpt_preset
from lmlab.recipes.distill import distill
from lmlab.recipes.pretrain_bert import pretrain_bert
from lmlab.recipes.pretrain_gpt import pretrain_gpt
from lmlab.runs.run import Run
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics


def train_cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(max_steps=30, batch_size=8, eval_every=15, eval_batches=2, log_every=5,
                                 warmup_steps=5, lr=3e-3, device="cpu"), **kw})


@pytest.fixture(scope="module")
def gpt_teacher(shakespeare_small, tmp_path_factory):
    run = tmp_path_factory.mktemp("teacher") / "gpt"
    model = gpt_preset("tiny", n_layers=4, d_model=32, max_seq_len=32)
    pretrain_gpt(str(shakespeare_small), model, train_cfg(max_steps=40), LMDataConfig(), run, quiet=True)
    return run


@pytest.fixture(scope="module")
def bert_teacher(shakespeare_small, tmp_path_factory):
    run = tmp_path_factory.mktemp("teacher") / "bert"
    model = bert_preset("bert-tiny", n_layers=4, d_model=32, n_heads=2, dropout=0.0)
    pretrain_bert(str(shakespeare_small), model, train_cfg(max_steps=20),
                  BertDataConfig(tokenizer_vocab_size=300, max_len=32), run, quiet=True)
    return run


def test_gpt_student_is_a_normal_run_and_its_metrics_have_the_parts(gpt_teacher, tmp_path):
    out = tmp_path / "student"
    teacher_bytes = (gpt_teacher / "model.safetensors").read_bytes()
    final = distill(gpt_teacher, out, DistillConfig(layers="0,2"), train_cfg(max_steps=20, eval_every=10), quiet=True)
    meta = json.loads((out / "config.json").read_text())
    assert meta["family"] == "gpt" and meta["model"]["n_layers"] == 2
    assert meta["distill"]["teacher_layers"] == [0, 2] and meta["distill"]["teacher"] == str(gpt_teacher.resolve())
    assert meta["source"] == json.loads((gpt_teacher / "config.json").read_text())["source"]
    evals = [r for r in read_metrics(out / "metrics.jsonl") if "val_loss" in r]
    assert {"val_kl", "val_ce", "val_cos", "val_distill_loss"} <= set(evals[-1])
    assert evals[-1]["val_distill_loss"] < evals[0]["val_distill_loss"]
    assert final["val_loss"] == final["val_ce"] and final["teacher_val_loss"] > 0
    student = Run.open(out)                             # generate/hf export load it like any GPT run
    model, _ = student.model(), student.tokenizer()
    assert model.cfg.n_layers == 2 and (out / "samples.txt").is_file()
    assert (gpt_teacher / "model.safetensors").read_bytes() == teacher_bytes    # the teacher run is untouched


def test_gpt_resume_continues_the_distillation(gpt_teacher, tmp_path):
    """The teacher and the settings come back from config.json; the steps are those of one run."""
    cfg = lambda steps: train_cfg(max_steps=steps, eval_every=5, schedule="constant", warmup_steps=0)
    out = tmp_path / "student"
    distill(gpt_teacher, out, DistillConfig(temperature=3.0), cfg(5), quiet=True)
    final = distill(None, out, None, cfg(10), resume=True, quiet=True)
    straight = distill(gpt_teacher, tmp_path / "straight", DistillConfig(temperature=3.0), cfg(10), quiet=True)
    assert json.loads((out / "config.json").read_text())["distill"]["temperature"] == 3.0
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl") if "val_loss" in r] == [5, 10]
    assert final["val_distill_loss"] == straight["val_distill_loss"]   # resume = uninterrupted, bit for bit


def test_bert_student_loads_as_a_bert_run(bert_teacher, tmp_path):
    out = tmp_path / "student"
    final = distill(bert_teacher, out, DistillConfig(), train_cfg(max_steps=10, eval_every=10), quiet=True)
    assert {"val_kl", "val_ce", "val_cos"} <= set(final)
    student, teacher = Run.open(out).model(), Run.open(bert_teacher).model()
    assert student.cfg.n_layers == 2
    # the sentence head and pooler are not trained (DistilBERT drops NSP): still the teacher's
    assert torch.equal(student.nsp.weight, teacher.nsp.weight)
    assert not torch.equal(student.bert.blocks[0].ff.up.weight, teacher.bert.blocks[0].ff.up.weight)  # trained


# ---- the command line ---------------------------------------------------------------------------
def test_distill_from_the_command_line(gpt_teacher, tmp_path, capsys, cli_fails):
    from lmlab.cli import main
    out = tmp_path / "student"
    argv = ["distill", "--teacher", str(gpt_teacher), "--out", str(out), "--layers", "1,3", "--temperature", "4",
            "--alpha-cos", "0", "--alpha_ce", "1", "--max_steps", "4", "--eval_every", "4", "--quiet"]
    assert main(argv) == 0
    assert "run saved in" in capsys.readouterr().out
    meta = json.loads((out / "config.json").read_text())
    assert meta["distill"] | {"teacher": None} == {"teacher": None, "teacher_layers": [1, 3], "temperature": 4.0,
                                                   "alpha_kl": 5.0, "alpha_ce": 1.0, "alpha_cos": 0.0,
                                                   "layers": "1,3", "init": "teacher"}
    teacher_train = json.loads((gpt_teacher / "config.json").read_text())["train"]
    assert meta["train"] == {**teacher_train, "max_steps": 4, "eval_every": 4}   # the teacher's settings by default
    assert main(["distill", "--out", str(out), "--resume", "--max_steps", "6", "--quiet"]) == 0
    cli_fails(["distill", "--out", str(out), "--resume", "--temperature", "3"], "keeps its teacher", "temperature")
    cli_fails(["distill", "--teacher", str(gpt_teacher), "--out", str(out)], "already exists")


@pytest.mark.parametrize("args, needles", [
    (["--layers", "0,4"], ("layer 4 is out of range", "the teacher has 4 layers")),
    (["--layers", "2,1"], ("increasing",)),
    (["--layers", "first"], ("every-other",)),
    (["--temperature", "0"], ("temperature must be > 0",)),
    (["--alpha-kl", "0", "--alpha-ce", "0", "--alpha-cos", "0"], ("not all 0",)),
    (["--max_stpes", "5"], ("max_steps",)),
])
def test_bad_distill_options_are_one_line(gpt_teacher, tmp_path, cli_fails, args, needles):
    cli_fails(["distill", "--teacher", str(gpt_teacher), "--out", str(tmp_path / "s"), *args], *needles)
    assert not (tmp_path / "s").exists()                                   # nothing left behind


def test_distill_refuses_a_missing_or_wrong_teacher(tmp_path, cli_fails, shakespeare_small):
    cli_fails(["distill", "--out", str(tmp_path / "s")], "--teacher is required")
    cli_fails(["distill", "--teacher", str(tmp_path / "nope"), "--out", str(tmp_path / "s")],
              "teacher run", "does not exist")
    cli_fails(["distill", "--teacher", str(shakespeare_small.parent), "--out", str(tmp_path / "s")],
              "config.json")


def test_distill_help_teaches_the_loss_and_lists_the_training_keys(capsys):
    from lmlab.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["distill", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "T^2 * KL" in out and "every other teacher layer" in out and "--max_steps" in out
    assert "teacher run's own" in out
