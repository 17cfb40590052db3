"""Knowledge distillation on char-level Tiny Shakespeare: teacher vs student from scratch vs distilled student.

A 6-layer teacher (the `shakespeare-char` recipe with n_layers 6) is trained first; then students of
3 layers (the same width) get the same training budget and the same batches (same seed):
  scratch     `lmlab train gpt`, random init, next-token cross-entropy only
  distilled   `lmlab distill`: teacher layers 0, 2, 4 + the triple loss (T 2, weights 5 : 2 : 1)
and, with --ablations, what each half is worth on its own:
  copy-only   `lmlab distill --alpha-kl 0 --alpha-cos 0`: the layer copy, hard labels only
  kd-random   `lmlab distill --init random`: the triple loss from a random init
Each model is scored on the whole validation split (non-overlapping windows) and timed forward
(tokens/s, no gradients, models interleaved so that noise on a shared machine hits all alike).

    python benchmarks/distill.py --teacher-budget 300 --student-steps 1500 --ablations \
        --json benchmarks/results/distill.json
On a busy machine, --teacher-steps 3200 instead of --teacher-budget keeps the losses deterministic.
A budget in seconds instead of steps (the distilled student then pays for the teacher's forward
pass with fewer steps): --student-budget 120. Reuse a trained teacher: --teacher runs/t6.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from lmlab.runs.run import Run
from lmlab.train.metrics import read_metrics

sys.path.insert(0, str(Path(__file__).parent))
from shakespeare_budget import full_split_loss  # noqa: E402


def lmlab(*args: str) -> None:
    cmd = [sys.executable, "-m", "lmlab.cli", *args]
    print("$ lmlab", " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


@torch.no_grad()
def forward_tokens_per_s(runs: dict[str, Path], batch: int = 16, rounds: int = 20) -> dict[str, float]:
    """Tokens/s of a forward pass (B, T) -> logits, eval mode, each model timed in turn round by round."""
    models = {name: Run.open(run).model().eval() for name, run in runs.items()}
    T = next(iter(models.values())).cfg.max_seq_len
    idx = torch.randint(0, 60, (batch, T))
    times: dict[str, list[float]] = {name: [] for name in models}
    for r in range(rounds + 3):
        for name, model in models.items():
            t0 = time.perf_counter()
            model(idx)
            if r >= 3:  # warm-up rounds
                times[name].append(time.perf_counter() - t0)
    return {name: batch * T / sorted(ts)[len(ts) // 2] for name, ts in times.items()}


def summary(run: Path) -> dict:
    rows = read_metrics(run / "metrics.jsonl")
    evals = [r for r in rows if "val_loss" in r]
    model = Run.open(run).model()
    return {"params": model.num_parameters(), "n_layers": model.cfg.n_layers, "steps": evals[-1]["step"],
            "train_seconds": max(r.get("time", 0.0) for r in rows),
            "val_loss_estimate": evals[-1]["val_loss"], "val_loss_full": full_split_loss(run),
            **({"val_kl": evals[-1]["val_kl"], "val_cos": evals[-1]["val_cos"]} if "val_kl" in evals[-1] else {})}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/distill-bench", help="folder for the runs (replaced)")
    p.add_argument("--teacher", help="an existing teacher run to use instead of training one")
    p.add_argument("--teacher-layers", type=int, default=6)
    p.add_argument("--teacher-budget", type=float, default=300.0, help="seconds of teacher training")
    p.add_argument("--teacher-steps", type=int, help="train the teacher for this many steps instead (no clock: "
                                                    "the same losses on a busy machine)")
    p.add_argument("--student-steps", type=int, help="students' budget in optimizer steps")
    p.add_argument("--student-budget", type=float, help="students' budget in seconds (instead of steps)")
    p.add_argument("--layers", default="0,2,4", help="teacher layers of the distilled student")
    p.add_argument("--ablations", action="store_true", help="also copy-only and kd-random students")
    p.add_argument("--json", help="write the figures to this JSON file")
    args = p.parse_args()
    if (args.student_steps is None) == (args.student_budget is None):
        p.error("give exactly one of --student-steps and --student-budget")
    out = Path(args.out)
    common = ["--quiet", "--overwrite"]
    teacher = Path(args.teacher) if args.teacher else out / "teacher"
    if not args.teacher:
        length = (["--max_steps", str(args.teacher_steps)] if args.teacher_steps else
                  ["--time-budget", str(args.teacher_budget)])
        lmlab("train", "gpt", "--data", "tinyshakespeare", "--config", "shakespeare-char", "--n_layers",
              str(args.teacher_layers), *length, "--out", str(teacher), *common)
    # the students' budget: the steps as given (and a cosine over them), or the clock
    budget = (["--max_steps", str(args.student_steps), "--time_budget", "0"] if args.student_steps else
              ["--time_budget", str(args.student_budget)])
    n_student = len(args.layers.split(","))
    teacher_train = json.loads((teacher / "config.json").read_text())["train"]
    keys = [x for k in ("lr", "min_lr", "warmup_steps", "batch_size", "beta2", "weight_decay", "eval_every",
                        "eval_batches", "seed") for x in (f"--{k}", str(teacher_train[k]))]
    runs = {"teacher": teacher, "scratch": out / "scratch", "distilled": out / "distilled"}
    lmlab("train", "gpt", "--data", "tinyshakespeare", "--config", "shakespeare-char", "--n_layers", str(n_student),
          *keys, *budget, "--out", str(runs["scratch"]), *common)
    lmlab("distill", "--teacher", str(teacher), "--layers", args.layers, *budget, "--out", str(runs["distilled"]),
          *common)
    if args.ablations:
        runs["copy-only"], runs["kd-random"] = out / "copy-only", out / "kd-random"
        lmlab("distill", "--teacher", str(teacher), "--layers", args.layers, "--alpha-kl", "0", "--alpha-cos", "0",
              *budget, "--out", str(runs["copy-only"]), *common)
        lmlab("distill", "--teacher", str(teacher), "--layers", args.layers, "--init", "random", *budget,
              "--out", str(runs["kd-random"]), *common)
    speed = forward_tokens_per_s(runs)
    result = {name: {**summary(run), "forward_tok_per_s": round(speed[name])} for name, run in runs.items()}
    result["conditions"] = {"threads": torch.get_num_threads(), "teacher": str(teacher),
                            "student_budget": " ".join(budget), "command": " ".join(sys.argv)}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
