"""`lmlab explain eval-mode`: a trained CNN with BatchNorm and dropout differs between train and eval mode; a GPT
without dropout does not, one with dropout does."""

from __future__ import annotations

from lmlab.tools.explain import run_topic


def test_eval_mode_numbers(capsys):
    r = run_topic("eval-mode")
    assert r["cnn_train_vs_eval"] > 0.01 and r["cnn_train_vs_train"] > 0.01
    assert r["cnn_acc_eval_mode"] > 0.8  # it did train
    assert r["gpt_dropout_0.0"] == 0.0 and r["gpt_dropout_0.1"] > 0.0
