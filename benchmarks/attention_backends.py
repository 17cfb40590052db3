"""Attention backends side by side: forward+backward time and peak memory, T = 1024 … 8192 (16384 for flash, sdpa).

    python benchmarks/attention_backends.py                        # the defaults below (tens of minutes on CPU)
    python benchmarks/attention_backends.py --T 256 512 --extra-T  # quick check that it runs
    python benchmarks/attention_backends.py --window 256           # also sliding-window W = 256 rows

Goal (the issue): peak memory of flash ≤ 10 % of naive at T = 8192; time of each backend relative to sdpa.

One step = `lmlab.ops.attention.attention(q, k, v, causal=..., window=..., backend=...)` on random
q, k, v (B, H, T, D) with requires_grad, then `out.backward(grad)`. Defaults: B 1, H 12, D 64 (GPT-2
small's heads), causal, fp32. naive runs for --T; flash and sdpa also for --extra-T.

Every (backend, T, window) runs in a fresh child process, so nothing one run allocates or caches can
flatter or burden the next. In the child:
- one warm-up step at T = 128 (loads kernels, initialises thread pools);
- memory: one step at the real size. On CPU we report the growth of the process's resident memory,
  peak minus start: the kernel's high-water mark VmHWM (/proc/self/status) is reset just before the
  step (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0) and read after it; the start is VmRSS with the
  inputs already allocated. This is what the step costs the machine in RAM (output, gradients, saved
  activations, temporaries, and whatever the C allocator keeps around), not only live tensor bytes.
  Where the reset is refused the child falls back to ru_maxrss, which may include start-up peaks
  (the JSON says which method was used). On CUDA: torch.cuda.max_memory_allocated minus the
  allocation before the step (live tensor bytes, after reset_peak_memory_stats);
- time: the median (and the fastest) of --reps further steps, synchronised on CUDA.

naive and bmm (which also keeps the probabilities) are skipped where the estimated peak (about 3.5 score matrices, B·H·T² elements each) exceeds
--max-naive-gib; at B 1, H 12, fp32, T 8192 it needs about 10 GiB.

Timing on a shared or busy machine is noise: run on a quiet one, and read the ratios to sdpa.
Prints a markdown table; writes JSON (config + one row per run) to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from _child import run_child  # benchmarks/ is on sys.path when run as a script

DTYPES = ("fp32", "bf16", "fp16")
DEFAULT_JSON = Path(__file__).parent / "results" / "attention_backends.json"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(job: dict) -> dict:
    """One (backend, T, window) measurement; runs in its own process."""
    import torch

    from lmlab.ops.attention import attention

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[job["dtype"]]
    B, H, D = job["B"], job["H"], job["D"]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def make(T):
        g = torch.Generator(device=device).manual_seed(0)
        q, k, v = (torch.randn(B, H, T, D, generator=g, device=device, dtype=dtype).requires_grad_()
                   for _ in range(3))
        return q, k, v, torch.randn(B, H, T, D, generator=g, device=device, dtype=dtype)

    def step(q, k, v, grad):
        for t in (q, k, v):
            t.grad = None
        out = attention(q, k, v, causal=job["causal"], window=job["window"], backend=job["backend"])
        out.backward(grad)
        sync()

    step(*make(min(128, job["T"])))                       # warm-up
    inputs = make(job["T"])
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        step(*inputs)
        peak, method = torch.cuda.max_memory_allocated(device) - before, "cuda max_memory_allocated"
    else:
        before = _status_kib("VmRSS") * 1024
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS high-water mark
            method = "VmHWM after reset - VmRSS before"
        except OSError:
            method = "ru_maxrss - VmRSS before (may include start-up peaks)"
        step(*inputs)
        if method.startswith("VmHWM"):
            hwm = _status_kib("VmHWM") * 1024
        else:
            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak = hwm - before
    times = []
    for _ in range(job["reps"]):
        t0 = time.perf_counter()
        step(*inputs)
        times.append(time.perf_counter() - t0)
    return {**job, "ms_median": 1e3 * statistics.median(times), "ms_min": 1e3 * min(times),
            "peak_mib": peak / 2**20, "memory_method": method, "threads_used": torch.get_num_threads()}


def naive_estimate_gib(B, H, T, dtype) -> float:
    return 3.5 * B * H * T * T * (4 if dtype == "fp32" else 2) / 2**30


def run_job(job: dict, timeout: float) -> dict:
    return run_child(__file__, job, timeout)


def table(rows: list[dict]) -> str:
    """Markdown: one row per run, with time relative to sdpa and memory relative to naive (same T, W)."""
    by = {(r["backend"], r["T"], r["window"]): r for r in rows if "error" not in r and not r.get("skipped")}
    lines = ["| backend | T | window | fwd+bwd ms (median) | fastest ms | time / sdpa | peak MiB | peak / naive |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        w = r["window"] or "-"
        if r.get("skipped") or "error" in r:
            lines.append(f"| {r['backend']} | {r['T']} | {w} | {r.get('skipped') or r['error']} | | | | |")
            continue
        sdpa = by.get(("sdpa", r["T"], r["window"]))
        naive = by.get(("naive", r["T"], r["window"]))
        rel_t = f"{r['ms_median'] / sdpa['ms_median']:.2f}" if sdpa else "-"
        rel_m = f"{100 * r['peak_mib'] / naive['peak_mib']:.1f} %" if naive and naive["peak_mib"] > 0 else "-"
        lines.append(f"| {r['backend']} | {r['T']} | {w} | {r['ms_median']:.1f} | {r['ms_min']:.1f} | {rel_t} | "
                     f"{r['peak_mib']:.1f} | {rel_m} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--T", type=int, nargs="+", default=[1024, 2048, 4096, 8192], help="lengths for every backend")
    p.add_argument("--extra-T", type=int, nargs="*", default=[16384],
                   help="further lengths for --extra-backends only (default 16384; empty to skip)")
    p.add_argument("--backends", nargs="+", default=["naive", "flash", "bmm", "sdpa"])
    p.add_argument("--extra-backends", nargs="+", default=["flash", "sdpa"])
    p.add_argument("--window", type=int, help="also run sliding-window attention with this W (e.g. 256)")
    p.add_argument("--B", type=int, default=1)
    p.add_argument("--H", type=int, default=12)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--dtype", choices=DTYPES, default="fp32")
    p.add_argument("--no-causal", dest="causal", action="store_false", help="bidirectional attention")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch threads in each child (default: torch's)")
    p.add_argument("--reps", type=int, default=3, help="timed steps after the memory step (median reported)")
    p.add_argument("--max-naive-gib", type=float, default=16.0,
                   help="skip naive and bmm where the estimated peak exceeds this (default 16)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed to one child (default 1800)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"output file (default {DEFAULT_JSON})")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    common = dict(B=args.B, H=args.H, D=args.D, dtype=args.dtype, causal=args.causal, device=args.device,
                  threads=args.threads, reps=args.reps)
    plan = [(b, T) for T in args.T for b in args.backends]
    plan += [(b, T) for T in args.extra_T for b in args.extra_backends if T not in args.T]
    windows = [None] + ([args.window] if args.window else [])
    rows = []
    for window in windows:
        for backend, T in plan:
            job = {**common, "backend": backend, "T": T, "window": window}
            if backend in ("naive", "bmm") and naive_estimate_gib(args.B, args.H, T, args.dtype) > args.max_naive_gib:
                row = {**job, "skipped": f"skipped (~{naive_estimate_gib(args.B, args.H, T, args.dtype):.0f} GiB)"}
            else:
                row = run_job(job, args.timeout)
            rows.append(row)
            done = row.get("skipped") or row.get("error") or f"{row['ms_median']:.1f} ms, {row['peak_mib']:.1f} MiB"
            print(f"{backend:>5} T={T:<6} W={window or '-':<5} {done}", file=sys.stderr, flush=True)

    import torch  # only for the record

    config = {**common, "T": args.T, "extra_T": args.extra_T, "window": args.window, "torch": torch.__version__,
              "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
              "command": " ".join(["python", "benchmarks/attention_backends.py", *sys.argv[1:]])}
    print(table(rows))
    by = {(r["backend"], r["T"], r["window"]): r for r in rows if "peak_mib" in r}
    for window in windows:
        for T in sorted({T for _, T in plan}):
            f, n = by.get(("flash", T, window)), by.get(("naive", T, window))
            if f and n and n["peak_mib"] > 0:
                print(f"flash peak = {100 * f['peak_mib'] / n['peak_mib']:.1f} % of naive at T = {T}"
                      + (f", W = {window}" if window else "") + (" (goal <= 10 % at T = 8192)" if T == 8192 else ""))
    from lmlab.ops.cpu import cpu_info  # the CPU every figure above was measured on
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"config": config, "cpu": cpu_info().as_dict(), "results": rows}, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
