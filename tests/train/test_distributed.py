"""Two processes under torchrun (gloo, CPU) compute what one process computes with the same global batch."""

import os
import subprocess
import sys

import pytest

from lmlab.train.metrics import read_metrics

ARGS = ["train", "gpt", "--preset", "tiny", "--max_seq_len", "32", "--batch_size", "8", "--max_steps", "8",
        "--eval_every", "4", "--eval_batches", "2", "--log_every", "1", "--lr", "3e-3", "--quiet",
        "--device", "cpu"]  # gloo on CPU, also on a machine with one GPU


def run(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_ddp_two_processes_equal_one(shakespeare_small, tmp_path):
    data = ["--data", str(shakespeare_small)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run([sys.executable, "-m", "lmlab.cli", *ARGS, *data, "--out", str(tmp_path / "one")], env)
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "lmlab.cli", *ARGS, *data, "--out", str(tmp_path / "two")], env)
    one, two = read_metrics(tmp_path / "one" / "metrics.jsonl"), read_metrics(tmp_path / "two" / "metrics.jsonl")
    key = lambda rows, k: [(r["step"], r[k]) for r in rows if k in r]
    assert [s for s, _ in key(one, "loss")] == [s for s, _ in key(two, "loss")] == list(range(1, 9))
    for k in ("loss", "val_loss"):
        diffs = [abs(a - b) for (_, a), (_, b) in zip(key(one, k), key(two, k))]
        assert max(diffs) < 1e-5, (k, diffs)  # the tolerance for the loss curve


@pytest.mark.slow
def test_ddp_time_budget_stops_every_process_together(shakespeare_small, tmp_path):
    """The clock drives lr and stopping; process 0's clock is shared, so no process waits forever."""
    i = ARGS.index("--max_steps")
    args = ARGS[:i] + ARGS[i + 2:] + ["--max_steps", "100000", "--time-budget", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "lmlab.cli", *args, "--data", str(shakespeare_small), "--out", str(tmp_path / "two")], env)
    rows = read_metrics(tmp_path / "two" / "metrics.jsonl")
    assert "val_loss" in rows[-1] and 0 < rows[-1]["step"] < 100000
