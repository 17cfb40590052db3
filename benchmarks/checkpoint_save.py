"""What an atomic checkpoint costs: the manifest set (lmlab.io.checkpoint) against two separate atomic writes.

    python benchmarks/checkpoint_save.py               # a 23M-parameter GPT (92 MB weights + 184 MB state)
    python benchmarks/checkpoint_save.py --quick       # the nano preset, seconds

The peer is the save lmlab had before checkpoint.json: model.safetensors and train_state.pt each written
to a temporary, fsynced and renamed (`atomic_write`), one after the other; a kill between the two left a
run that could not resume. The set (`save_checkpoint`) writes both temporaries the same way, then reads
them back for their SHA-256, links the previous pair as *.prev, renames, writes checkpoint.json and removes
the links. Loading (`load_weights` + `load_train_state`) now also hashes each file against the manifest.
Both sides run interleaved in one process on the same model and optimizer state, into the same folder
kind; medians of --reps. Writes JSON to --json (default benchmarks/results/checkpoint_save.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from lmlab.io import checkpoint
from lmlab.io.atomic import atomic_write
from lmlab.models.gpt import GPT, preset

DEFAULT_JSON = Path(__file__).parent / "results" / "checkpoint_save.json"


def two_writes(run_dir: Path, model, step: int, state: dict) -> None:
    """The save before checkpoint.json: weights, then state, each atomic on its own."""
    tensors = checkpoint.unique_state_dict(model)
    meta = {"step": str(step), "sha256": checkpoint.state_digest(tensors)}
    atomic_write(run_dir / checkpoint.MODEL_FILE, lambda tmp: save_file(tensors, tmp, metadata=meta))
    state = {**state, "sha256": checkpoint.state_digest(state)}
    atomic_write(run_dir / checkpoint.STATE_FILE, lambda tmp: torch.save(state, tmp))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args()
    cfg = preset("nano") if args.quick else preset("gpt2-small", d_model=384, n_heads=6, n_layers=2)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.zeros(1, 8, dtype=torch.long)).sum().backward()
    opt.step()  # the optimizer's two moments exist, as in a real checkpoint
    state = {"step": 1, "optimizer": opt.state_dict()}
    times: dict[str, list[float]] = {"two atomic writes": [], "checkpoint set": [], "load, unchecked": [],
                                     "load, checked": []}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as a, tempfile.TemporaryDirectory(dir=Path.cwd()) as b:
        old, new = Path(a), Path(b)
        for _ in range(args.reps + 1):  # the first round warms the page cache and is dropped
            t0 = time.perf_counter()
            two_writes(old, model, 1, state)
            t1 = time.perf_counter()
            checkpoint.save_checkpoint(new, model, 1, state)
            t2 = time.perf_counter()
            (old / checkpoint.MANIFEST).unlink(missing_ok=True)  # no manifest: load as the old code did
            checkpoint.load_weights(old, model)
            checkpoint.load_train_state(old)
            t3 = time.perf_counter()
            checkpoint.load_weights(new, model)
            checkpoint.load_train_state(new)
            t4 = time.perf_counter()
            for name, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[name].append(dt)
        size = sum((new / f).stat().st_size for f in (checkpoint.MODEL_FILE, checkpoint.STATE_FILE))
    med = {k: statistics.median(v[1:]) for k, v in times.items()}
    print(f"GPT {model.num_parameters() / 1e6:.1f}M parameters, checkpoint {size / 1e6:.0f} MB, "
          f"median of {args.reps}")
    for k, v in med.items():
        print(f"  {k:<20} {v:7.3f} s")
    print(f"  save: set / two writes = {med['checkpoint set'] / med['two atomic writes']:.2f}; "
          f"load: checked / unchecked = {med['load, checked'] / med['load, unchecked']:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                     "params": model.num_parameters(), "bytes": size, "reps": args.reps,
                                     "median_s": med, "all_s": times}, indent=2) + "\n")


if __name__ == "__main__":
    main()
