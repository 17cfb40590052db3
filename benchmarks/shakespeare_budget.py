"""Quality at a fixed wall-clock budget: char-level Tiny Shakespeare, validation = last 10 % (as nanoGPT).

Trains with `lmlab train gpt --time-budget SECONDS` (the clock covers the whole training loop:
steps, evaluations, checkpoints) and then scores the saved model on the *whole* validation split
in non-overlapping windows, besides the Trainer's own estimate from random windows.

    python benchmarks/shakespeare_budget.py --budget 120 -- --preset shakespeare-cpu
Everything after `--` goes to `lmlab train gpt`.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch

from lmlab.data.corpora import load_text
from lmlab.data.lm import split_tokens
from lmlab.runs.run import Run
from lmlab.train.metrics import read_metrics
from lmlab.train.objectives import causal_lm


@torch.no_grad()
def full_split_loss(run: Path, batch_size: int = 64) -> float:
    """Mean next-token loss over every position of the validation split (windows of max_seq_len)."""
    r = Run.open(run)
    model, tokenizer, meta = r.model(), r.tokenizer(), r.meta
    model.eval()
    ids = torch.tensor(tokenizer.encode(load_text(meta["source"])))
    _, val = split_tokens(ids, meta["data"]["val_fraction"])
    T = model.cfg.max_seq_len
    n = (len(val) - 1) // T
    x, y = val[: n * T].view(n, T), val[1: n * T + 1].view(n, T)
    total = 0.0
    for i in range(0, n, batch_size):
        batch = {"input_ids": x[i:i + batch_size], "labels": y[i:i + batch_size]}
        total += causal_lm(model, batch)["loss"].item() * len(batch["input_ids"])
    return total / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=120.0, help="seconds of training (default 120)")
    p.add_argument("--out", default="runs/shakespeare-budget", help="run directory (replaced)")
    p.add_argument("--json", help="write the figures to this JSON file")
    p.add_argument("train_args", nargs="*", help="extra `lmlab train gpt` arguments (after --)")
    args = p.parse_args()
    cmd = [sys.executable, "-m", "lmlab.cli", "train", "gpt", "--data", "tinyshakespeare", "--tokenizer", "char",
           "--time-budget", str(args.budget), "--out", args.out, "--overwrite", *args.train_args]
    print("$", " ".join(cmd[2:]))
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    rows = read_metrics(Path(args.out) / "metrics.jsonl")
    evals = [r for r in rows if "val_loss" in r]
    train_time = max(r.get("time", 0) for r in rows)
    full = full_split_loss(Path(args.out))
    result = {"steps": evals[-1]["step"], "val_loss_estimate": evals[-1]["val_loss"], "val_loss_full": full,
              "val_ppl_full": math.exp(full), "train_seconds": train_time, "process_seconds": wall,
              "command": " ".join(cmd[2:])}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
