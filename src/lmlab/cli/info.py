"""Settings and parameter counts of a run or a preset, of any registered family: `lmlab info`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from lmlab.cli._common import bytes_, human
from lmlab.errors import LmlabError
from lmlab.runs import families


def cmd_system(args) -> None:
    """`lmlab info --system [--clear-cache]`: the CPU, the torch build, quick measurements, the kernels."""
    from lmlab.ops import autotune
    from lmlab.tools.system import report
    if args.clear_cache:
        removed = autotune.clear_cache()
        print(f"removed {removed}" if removed else f"no cache to remove ({autotune.cache_path()})")
    print("\n".join(report()))


def cmd_info(args) -> None:
    if args.system or args.clear_cache:
        if args.run or args.preset:
            raise LmlabError("--system describes this machine; give it without a run or --preset")
        return cmd_system(args)
    if bool(args.run) == bool(args.preset):
        raise LmlabError("give either a run directory, --preset NAME or --system")
    if args.preset:
        family = families.with_preset(args.preset)
        cfg, title = family.preset(args.preset), f"preset {args.preset}"
    else:
        from lmlab.runs.run import Run
        run = Run.open(args.run, command="info")
        family, cfg, title = run.family, run.config("model"), f"run {args.run}"
    print(f"{family.name} {title}")
    width = max(15, *(len(f.name) + 1 for f in dataclasses.fields(cfg)))
    for f in dataclasses.fields(cfg):
        print(f"  {f.name:<{width}} {getattr(cfg, f.name)}")
    n = families.resolve(family.count)(cfg) if family.count else None
    if n is not None:
        print(f"parameters      {n:,} ({human(n)})")
    published = family.published(args.preset) if args.preset else None
    if published:
        exact = f"{published:,} = " if isinstance(published, int) else ""
        print(f"  published     {exact}{human(published)}")
    for line in family.facts(cfg):
        print(line)
    if n is not None:
        print(f"weights         {bytes_(4 * n)} fp32, {bytes_(2 * n)} bf16")
    if args.run:
        _trained(args.run, family)
        kernels = run.meta.get("kernels")
        if isinstance(kernels, dict):
            print("kernels         " + ", ".join(f"{k} {v}" for k, v in kernels.items()) + " (replayed by --resume)")


def _trained(run: str, family) -> None:
    """How far the run trained, its last validation figures, and its NF4 state where the family has one."""
    from lmlab.train.metrics import read_metrics
    rows = read_metrics(Path(run) / "metrics.jsonl")
    evals = [r for r in rows if any(k.startswith("val_") for k in r)]
    if rows:
        last = ", ".join(f"{k} {v:.4g}" for k, v in (evals[-1] if evals else {}).items()
                         if k.startswith("val_") and isinstance(v, float))
        print(f"trained         {rows[-1]['step']} steps" + (f", last {last}" if last else ""))
    if "quantize" in family.commands:
        from lmlab.recipes.quantize import describe
        print("\n".join(describe(run)) or f"NF4             not quantised (`lmlab quantize nf4 {run}`)")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `info` command's parser."""
    listing = "; ".join(f"{f.name}: {', '.join(f.preset_names())}" for f in families.FAMILIES.values()
                        if f.presets and f.default_preset)
    info = sub.add_parser("info", formatter_class=fmt, help="settings of a run or a preset; this machine's kernels",
                          description="Show a model's settings, parameter count and weight memory, for a run of "
                                      "any family or a named preset; or, with --system, this machine: its CPU and "
                                      "features, torch build, measured matmul peak and memory bandwidth, and the "
                                      "kernels lmlab picked for it (timed once, cached per CPU model, torch "
                                      "version and thread count).",
                          epilog=lambda: f"presets:\n  {listing}\n\nexamples:\n  lmlab info --preset gpt2-small\n"
                                         "  lmlab info --preset bert-base\n  lmlab info runs/shakespeare\n"
                                         "  lmlab info --system                 # CPU, features, GFLOP/s, GB/s, "
                                         "kernels\n  lmlab info --system --clear-cache   # measure the kernels "
                                         "again\n  LMLAB_AUTOTUNE=0 lmlab info --system # no timing: choices from "
                                         "the CPU's features")
    info.add_argument("run", nargs="?", help="run directory")
    info.add_argument("--preset", help="a preset name instead of a run (listed below)")
    info.add_argument("--system", action="store_true", help="describe this machine and the kernels lmlab uses on it")
    info.add_argument("--clear-cache", action="store_true", help="with --system: forget the kernel measurements "
                                                                 "first, so they are taken again")
    info.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_info(args)
