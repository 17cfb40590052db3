"""The notes' data-scale claim at its small end: a small ViT against a small ResNet on shares of digits.

    python benchmarks/data_scale.py                         # 10/25/50/100 %, seeds 1-3, shift on and off
    python benchmarks/data_scale.py --jobs 2 --out /tmp/data-scale
    python benchmarks/data_scale.py --fractions 0.1 1 --seeds 1 --quick   # a smoke run (few steps)

`004_…` 六: ViT lacks a CNN's built-in locality and translation equivariance, so it needs more data; with
little data CNNs still win. Only the direction can be looked at here (1,259 training digits, not millions
of images): each model is trained on 10 %, 25 %, 50 % and 100 % of the training split (stratified, nested:
`--train_fraction`), with and without augmentation (random shifts of one pixel: `--shift 1` / `--shift 0`),
for a fixed number of steps that takes about 60 s of one core on an idle machine (ResNet 3,600 steps,
ViT 1,100: the ViT's step costs more), three seeds each. The weights kept are the best on the full
validation split; the figure is test accuracy on the fixed 269 test images. Runs go through `lmlab train`
in subprocesses (`--jobs` at once, one torch thread each); the table, a plot (data_scale.png) and the
JSON (benchmarks/results/data_scale.json) are written at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS = {  # name -> (lmlab train arguments, steps ≈ 60 s on one idle core, evaluate every)
    "ResNet (resnet-digits)": (["cnn", "--preset", "resnet-digits"], 3600, 200),
    "ViT (vit-digits, 2×2 patches, stride 1)": (["vit", "--preset", "vit-digits", "--stride", "1", "--pool", "mean",
                                                 "--dropout", "0"], 1100, 100),
}
RESULTS = Path(__file__).parent / "results" / "data_scale.json"


def command(model: str, fraction: float, shift: int, seed: int, out: Path, quick: bool) -> list[str]:
    args, steps, every = MODELS[model]
    if quick:
        steps, every = 20, 10  # and a warm-up that fits
    return [sys.executable, "-c", "import torch; torch.set_num_threads(1); import sys; from lmlab.cli import main; "
            "sys.exit(main(sys.argv[1:]))", "train", *args, "--data", "digits", "--train_fraction", str(fraction),
            "--shift", str(shift), "--seed", str(seed), "--max_steps", str(steps), "--eval_every", str(every),
            "--quiet", "--overwrite", "--out", str(out), *(["--warmup_steps", "2"] if quick else [])]


def run_all(jobs: list[tuple], out: Path, parallel: int, quick: bool) -> None:
    """Each (model, fraction, shift, seed) once, `parallel` at a time; a finished run (results.json) is kept."""
    pending = [j for j in jobs if not (folder(out, *j) / "results.json").exists()]
    running: list[subprocess.Popen] = []
    done = len(jobs) - len(pending)
    while pending or running:
        while pending and len(running) < parallel:
            job = pending.pop(0)
            running.append(subprocess.Popen(command(*job, folder(out, *job), quick), stdout=subprocess.DEVNULL))
        time.sleep(1)
        for proc in [p for p in running if p.poll() is not None]:
            running.remove(proc)
            done += 1
            if proc.returncode:
                raise SystemExit(f"a run failed (exit {proc.returncode}): {' '.join(proc.args[4:])}")
            print(f"\r{done}/{len(jobs)} runs done", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def folder(out: Path, model: str, fraction: float, shift: int, seed: int) -> Path:
    return out / f"{MODELS[model][0][0]}-{fraction:g}-shift{shift}-seed{seed}"


def summarise(jobs: list[tuple], out: Path) -> list[dict]:
    rows = []
    for model, fraction, shift in sorted({j[:3] for j in jobs}, key=lambda k: (k[0], k[2], k[1])):
        accs, seconds = [], []
        for seed in sorted({j[3] for j in jobs}):
            run = folder(out, model, fraction, shift, seed)
            accs.append(json.loads((run / "results.json").read_text())["test_accuracy"])
            metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            seconds.append(max(m.get("time", 0.0) for m in metrics))
        rows.append({"model": model, "fraction": fraction, "shift": shift, "test_accuracy": accs,
                     "mean": statistics.mean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                     "train_seconds": statistics.median(seconds)})
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (model, shift), group in itertools.groupby(rows, key=lambda r: (r["model"], r["shift"])):
        group = sorted(group, key=lambda r: r["fraction"])
        ax.errorbar([100 * r["fraction"] for r in group], [100 * r["mean"] for r in group],
                    yerr=[100 * r["std"] for r in group], marker="o", capsize=3,
                    linestyle="-" if shift else "--", label=f"{model.split(' (')[0]}, {'shifts' if shift else 'no aug.'}")
    ax.set_xscale("log")
    ax.set_xticks([10, 25, 50, 100], ["10 %", "25 %", "50 %", "100 %"])
    ax.set_xlabel("share of the 1,259 training digits")
    ax.set_ylabel("test accuracy (%), mean ± std of seeds")
    ax.set_title("small data: ResNet vs ViT on digits")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--shifts", type=int, nargs="+", default=[1, 0], help="augmentation: 1 (shifts) and/or 0 (none)")
    p.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each")
    p.add_argument("--out", default="/tmp/data-scale", help="where the runs go (finished runs are reused)")
    p.add_argument("--json", default=None, help=f"results file (default {RESULTS}; none with --quick)")
    p.add_argument("--quick", action="store_true", help="20 steps a run: checks the script, measures nothing")
    args = p.parse_args()
    out = Path(args.out)
    jobs = list(itertools.product(MODELS, args.fractions, args.shifts, args.seeds))
    t0 = time.time()
    run_all(jobs, out, args.jobs, args.quick)
    rows = summarise(jobs, out)
    print(f"{'model':<42} {'aug.':<8} {'train share':>11} {'test accuracy':>16} {'train s':>8}")
    for r in rows:
        print(f"{r['model']:<42} {'shifts' if r['shift'] else 'none':<8} {r['fraction']:>10.0%} "
              f"{100 * r['mean']:>9.2f} ± {100 * r['std']:.2f} {r['train_seconds']:>8.0f}")
    plot(rows, out / "data_scale.png")
    print(f"plot: {out / 'data_scale.png'}; wall {time.time() - t0:.0f} s")
    if args.json or not args.quick:
        path = Path(args.json or RESULTS)
        path.write_text(json.dumps({"rows": rows, "seeds": args.seeds, "wall_seconds": time.time() - t0}, indent=1))
        print(f"results: {path}")


if __name__ == "__main__":
    main()
