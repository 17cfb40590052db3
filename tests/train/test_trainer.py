"""Trainer: loss falls on real text, exact resume, accumulation, divergence, time budget."""

import json

import pytest
import torch

from lmlab.data.lm_config import LMDataConfig
from lmlab.errors import LmlabError
from lmlab.models.gpt import preset
from lmlab.recipes.pretrain_gpt import pretrain_gpt
from lmlab.train.config import TrainConfig
from lmlab.train.metrics import read_metrics

MODEL = preset("tiny", max_seq_len=32, dropout=0.1)  # dropout on: resume must restore the RNG too


def train_cfg(**kw):
    return TrainConfig(**{**dict(max_steps=20, batch_size=4, eval_every=10, eval_batches=2, log_every=1,
                                 warmup_steps=5, lr=3e-3, min_lr=3e-4), **kw})


def losses(run_dir):
    return [(r["step"], r["loss"]) for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r]


def test_smoke_loss_falls_and_files_written(shakespeare_small, tmp_path):
    out = tmp_path / "run"
    final = pretrain_gpt(str(shakespeare_small), MODEL, train_cfg(max_steps=40, eval_every=20), LMDataConfig(),
                         out, quiet=True)
    rows = losses(out)
    assert rows[-1][1] < rows[0][1] - 0.5        # from ~ln(vocab) down by at least half a nat
    assert final["val_loss"] < rows[0][1]
    for name in ("config.json", "tokenizer.json", "model.safetensors", "train_state.pt", "metrics.jsonl",
                 "loss.png", "samples.txt"):
        assert (out / name).is_file(), name
    assert "=== step 40 ===" in (out / "samples.txt").read_text()
    meta = json.loads((out / "config.json").read_text())
    assert meta["family"] == "gpt" and meta["model"]["vocab_size"] == meta["model"]["vocab_size"]


@pytest.mark.parametrize("optimizer", ["torch-adamw", "adamw", "nesterov"])
def test_resume_reproduces_uninterrupted_run(shakespeare_small, tmp_path, optimizer):
    """Interrupt after step 7 (Ctrl-C path saves a checkpoint), resume, compare every step's loss."""
    cfg = train_cfg(optimizer=optimizer, lr=0.1 if optimizer == "nesterov" else 3e-3)
    pretrain_gpt(str(shakespeare_small), MODEL, cfg, LMDataConfig(), tmp_path / "straight", quiet=True)

    def interrupt(step):
        if step == 7:
            raise KeyboardInterrupt
    with pytest.raises(LmlabError, match="interrupted at step 7"):
        pretrain_gpt(str(shakespeare_small), MODEL, cfg, LMDataConfig(), tmp_path / "split", quiet=True,
                     on_step_end=interrupt)
    assert max(s for s, _ in losses(tmp_path / "split")) == 7
    pretrain_gpt(str(shakespeare_small), MODEL, cfg, LMDataConfig(), tmp_path / "split", resume=True, quiet=True)
    assert losses(tmp_path / "split") == losses(tmp_path / "straight")  # bit-for-bit, step for step


def test_resume_drops_metrics_logged_after_the_checkpoint(shakespeare_small, tmp_path):
    cfg = train_cfg(max_steps=12, eval_every=5)
    out = tmp_path / "run"
    pretrain_gpt(str(shakespeare_small), MODEL, cfg, LMDataConfig(), out, quiet=True)
    # pretend the process died at step 12 after a checkpoint at 10: keep only the step-10 checkpoint state
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert state["step"] == 12
    pretrain_gpt(str(shakespeare_small), MODEL, cfg.__class__(**{**cfg.__dict__, "max_steps": 16}),
                 LMDataConfig(), out, resume=True, quiet=True)
    steps = [s for s, _ in losses(out)]
    assert steps == sorted(set(steps)) and steps[-1] == 16


def test_grad_accumulation_equals_big_batch(shakespeare_small, tmp_path):
    """2 micro-batches of 4 draw the same 8 windows as one batch of 8 (one generator stream), so the
    accumulated gradient, and so every step's loss, equals the big batch's (fp32, ≤ 1e-5)."""
    model = preset("tiny", max_seq_len=32)  # no dropout: the two runs must match
    big = train_cfg(max_steps=6, batch_size=8, grad_accum=1)
    acc = train_cfg(max_steps=6, batch_size=4, grad_accum=2)
    pretrain_gpt(str(shakespeare_small), model, big, LMDataConfig(), tmp_path / "big", quiet=True)
    pretrain_gpt(str(shakespeare_small), model, acc, LMDataConfig(), tmp_path / "acc", quiet=True)
    a, b = losses(tmp_path / "big"), losses(tmp_path / "acc")
    assert [s for s, _ in a] == [s for s, _ in b] == list(range(1, 7))
    assert max(abs(x - y) for (_, x), (_, y) in zip(a, b)) < 1e-5


def test_divergence_is_caught(shakespeare_small, tmp_path):
    with pytest.raises(LmlabError, match="diverged"):
        pretrain_gpt(str(shakespeare_small), preset("tiny", max_seq_len=32),
                     train_cfg(lr=1e9, min_lr=0, warmup_steps=0, grad_clip=0, max_steps=30),
                     LMDataConfig(), tmp_path / "nan", quiet=True)


def test_time_budget_stops_with_final_eval_and_checkpoint(shakespeare_small, tmp_path):
    out = tmp_path / "run"
    final = pretrain_gpt(str(shakespeare_small), MODEL, train_cfg(max_steps=100_000, time_budget=2.0),
                         LMDataConfig(), out, quiet=True)
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert 0 < state["step"] < 100_000 and "val_loss" in final
    assert read_metrics(out / "metrics.jsonl")[-1]["step"] == state["step"]


def test_bf16_autocast_trains(shakespeare_small, tmp_path):
    out = tmp_path / "run"
    pretrain_gpt(str(shakespeare_small), MODEL, train_cfg(max_steps=20, dtype="bf16"), LMDataConfig(), out,
                 quiet=True)
    rows = losses(out)
    assert rows[-1][1] < rows[0][1] - 0.3


@pytest.mark.parametrize("model", [
    preset("llama-nano", max_seq_len=32, d_model=64, n_layers=2, d_ff=172),           # rotary, RMSNorm, SwiGLU, GQA
    preset("tiny", max_seq_len=32, attn_window=8, attn_backend="flash"),            # sliding window, tiled kernel
], ids=["llama-style", "window-flash"])
def test_variants_learn(shakespeare_small, tmp_path, model):
    pretrain_gpt(str(shakespeare_small), model, train_cfg(max_steps=40, eval_every=40), LMDataConfig(),
                 tmp_path / "run", quiet=True)
    rows = losses(tmp_path / "run")
    assert rows[-1][1] < rows[0][1] - 0.5


# a learning rate that suits each optimizer on this tiny model (SGD-like ones need far larger steps)
LR = {"sgd": 0.5, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.05, "rmsprop": 1e-3, "adam": 3e-3,
      "adamw": 3e-3, "ftrl": 0.5, "torch-adamw": 3e-3}


@pytest.mark.parametrize("optimizer", list(LR))
def test_every_optimizer_trains(shakespeare_small, tmp_path, optimizer):
    from lmlab.optim.registry import OPTIMIZERS
    assert set(LR) == set(OPTIMIZERS)
    cfg = train_cfg(max_steps=30, eval_every=30, optimizer=optimizer, lr=LR[optimizer], min_lr=LR[optimizer] / 10)
    pretrain_gpt(str(shakespeare_small), preset("tiny", max_seq_len=32), cfg, LMDataConfig(), tmp_path / "r",
                 quiet=True)
    rows = losses(tmp_path / "r")
    assert rows[-1][1] < rows[0][1] - 0.3, rows[-1]


@pytest.mark.parametrize("schedule", ["constant", "warmup_linear", "inverse_sqrt", "step_decay"])
def test_schedules_drive_the_learning_rate(shakespeare_small, tmp_path, schedule):
    from lmlab.optim.schedules import schedule_lr
    cfg = train_cfg(max_steps=12, eval_every=12, schedule=schedule, step_size=4, gamma=0.5)
    pretrain_gpt(str(shakespeare_small), preset("tiny", max_seq_len=32), cfg, LMDataConfig(), tmp_path / "r",
                 quiet=True)
    lrs = [r["lr"] for r in read_metrics(tmp_path / "r" / "metrics.jsonl") if "lr" in r]
    want = [schedule_lr(schedule, s, lr=cfg.lr, warmup=cfg.warmup_steps, total=cfg.max_steps, min_lr=cfg.min_lr,
                        step_size=4, gamma=0.5) for s in range(12)]
    assert lrs == pytest.approx(want)


@pytest.mark.parametrize("smoothing", ["uniform", "others"])
def test_label_smoothing_trains(shakespeare_small, tmp_path, smoothing):
    cfg = train_cfg(max_steps=30, eval_every=30, label_smoothing=0.1, smoothing=smoothing)
    pretrain_gpt(str(shakespeare_small), MODEL, cfg, LMDataConfig(), tmp_path / "r", quiet=True)
    rows = losses(tmp_path / "r")
    assert rows[-1][1] < rows[0][1] - 0.5


def test_causal_lm_smooths_with_lmlabs_cross_entropy():
    from lmlab.models.gpt import GPT
    from lmlab.ops.losses import cross_entropy
    from lmlab.train.objectives import causal_lm
    model = GPT(preset("tiny", vocab_size=50, max_seq_len=16))
    ids = torch.randint(0, 50, (2, 16))
    batch = {"input_ids": ids, "labels": ids.roll(-1, 1)}
    logits = model(ids)
    for kind in ("uniform", "others"):
        got = causal_lm(model, batch, 0.1, kind)["loss"]
        assert torch.allclose(got, cross_entropy(logits, batch["labels"], 0.1, kind))
    assert not torch.allclose(causal_lm(model, batch, 0.1, "others")["loss"], causal_lm(model, batch)["loss"])


def test_time_budget_steers_decays_to_an_end_but_not_inverse_sqrt():
    """Half the budget spent: a cosine is half way down whatever the step; inverse_sqrt follows its steps."""
    from lmlab.optim.schedules import schedule_lr
    from lmlab.train.trainer import Trainer

    def lr(schedule: str) -> float:
        cfg = train_cfg(schedule=schedule, max_steps=1000, warmup_steps=10, time_budget=100.0, device="cpu")
        trainer = Trainer(torch.nn.Linear(2, 2), None, None, cfg)
        trainer.elapsed = 50.0
        return trainer.lr_at(20)

    assert lr("warmup_cosine") == pytest.approx(schedule_lr("warmup_cosine", 500, lr=3e-3, warmup=10, total=1000,
                                                            min_lr=3e-4))
    assert lr("inverse_sqrt") == schedule_lr("inverse_sqrt", 20, lr=3e-3, warmup=10)
