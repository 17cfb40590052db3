"""Digits test accuracy of `lmlab train cnn` over seeds: model and epoch chosen on validation (the run keeps the
evaluation's best weights), mean ± std of the test accuracy, each run within a wall-clock budget.

    python benchmarks/digits_cnn.py --seeds 1 2 3 --preset resnet-digits --time-budget 240 --out /tmp/digits
Seeds may run in parallel processes (--parallel), each with --threads torch threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--preset", default="resnet-digits")
    p.add_argument("--time-budget", type=float, default=240.0)
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--parallel", action="store_true", help="run the seeds at once (one process each)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="/tmp/digits-cnn")
    args, extra = p.parse_known_args()
    procs, t0 = [], time.time()
    for seed in args.seeds:
        cmd = [sys.executable, "-c", f"import torch; torch.set_num_threads({args.threads}); "
               "import sys; from lmlab.cli import main; sys.exit(main(sys.argv[1:]))",
               "train", "cnn", "--data", "digits", "--preset", args.preset, "--seed", str(seed), "--quiet",
               "--max_steps", str(args.max_steps), "--time-budget", str(args.time_budget), "--overwrite",
               "--out", f"{args.out}/seed{seed}", *extra]
        procs.append(subprocess.Popen(cmd))
        if not args.parallel:
            procs[-1].wait()
    for proc in procs:
        proc.wait()
    rows = []
    for seed in args.seeds:
        res = json.loads((Path(args.out) / f"seed{seed}" / "results.json").read_text())
        metrics = [json.loads(line) for line in (Path(args.out) / f"seed{seed}" / "metrics.jsonl").read_text().splitlines()]
        train_time = max(m.get("time", 0) for m in metrics)
        rows.append((seed, res["test_accuracy"], res["test_macro_f1"], res["val_accuracy"], res["best_step"], train_time))
        print(f"seed {seed}: test acc {res['test_accuracy']:.4f}  macro-F1 {res['test_macro_f1']:.4f}  "
              f"val acc {res['val_accuracy']:.4f}  best step {res['best_step']}  trained {train_time:.0f} s")
    accs = [r[1] for r in rows]
    print(f"test accuracy {statistics.mean(accs):.4f} ± {statistics.stdev(accs) if len(accs) > 1 else 0:.4f} "
          f"over {len(accs)} seeds ({args.preset}); wall {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
