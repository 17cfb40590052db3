"""attn_backend "auto" against each fixed backend, per kind of call: is the measured pick ever slower than sdpa?

    python benchmarks/attention_auto.py                       # GPT-2 small's heads (12 × 64), batch 1
    python benchmarks/attention_auto.py --reps 21 --json benchmarks/results/attention_auto.json

For each kind of call (training forward + backward on T tokens, causal; inference forward on T tokens;
one decoding query over T cached keys; some with a sliding window of 128; fp32 and bf16) the script lets lmlab.ops.attention.auto_backend
decide, in a fresh temporary cache (so the decision is measured now, as on a user's first run), then
times every backend and "auto" itself on that call, interleaved one call at a time (the order shuffled
at each repetition, so no backend always runs after the same one: a call after flash's large tiles
finds colder caches), median of --reps.
It prints ms per call, the pick, and auto's time over sdpa's (the fallback: ≤ 1.00 within noise is the
goal) and over the fastest backend's. --json writes the rows. Run it alone on the machine (timing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time

import torch

from lmlab.ops import autotune
from lmlab.ops.attention import AttentionMask, attention, auto_backend, choice_name
from lmlab.ops.cpu import cpu_info

CALLS = [("train", 64, 0), ("train", 256, 0), ("train", 1024, 0), ("train", 2048, 128), ("infer", 256, 0),
         ("infer", 1024, 0), ("infer", 2048, 128), ("decode", 128, 0), ("decode", 512, 0), ("decode", 2048, 0)]
# (kind of call, T, sliding window W: 0 = none; with W the tiled flash kernel skips the blocks outside the band)


def call(mode: str, T: int, window: int, dtype: torch.dtype, heads: int, head_dim: int):
    """(the choice name, {backend: a callable running that backend on this call})."""
    g = torch.Generator().manual_seed(0)
    t_q = 1 if mode == "decode" else T
    q = torch.randn(1, heads, t_q, head_dim, generator=g).to(dtype).requires_grad_(mode == "train")
    k, v = (torch.randn(1, heads, T, head_dim, generator=g).to(dtype).requires_grad_(mode == "train")
            for _ in range(2))
    kw = dict(causal=True, window=window or None)
    spec = AttentionMask.build(t_q, T, **kw)
    backends = ["sdpa", "flash", "bmm", "auto"] + (["naive"] if mode != "train" else [])

    def run(backend):
        def fn():
            if mode == "train":
                out = attention(q, k, v, backend=backend, **kw)
                torch.autograd.grad(out.float().sum(), (q, k, v))
            else:
                with torch.no_grad():
                    attention(q, k, v, backend=backend, **kw)
        return fn
    with torch.set_grad_enabled(mode == "train"):
        name, pick = choice_name(q, k, spec, mode), auto_backend(q, k, v, spec, 0.0)
    return name, pick, {b: run(b) for b in backends}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=11)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--dtypes", default="fp32,bf16")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["LMLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmlab-attn-auto-")   # measured now, not read
    os.environ["LMLAB_AUTOTUNE"] = "1"
    print(f"CPU {cpu_info().label()}; {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"batch 1, {args.heads} heads × {args.head_dim}, causal; median of {args.reps}")
    print(f"{'dtype':<6}{'call':<8}{'T':>6}{'':>6}  {'sdpa':>8}{'flash':>8}{'bmm':>8}{'naive':>8}{'auto':>8}  pick   "
          f"{'auto/sdpa':>9}{'auto/best':>10}")
    rows = []
    for dname in args.dtypes.split(","):
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dname]
        for mode, T, window in CALLS:
            name, pick, fns = call(mode, T, window, dtype, args.heads, args.head_dim)
            for fn in fns.values():
                fn()
            times: dict[str, list[float]] = {b: [] for b in fns}
            order, rng = list(fns), random.Random(0)
            for _ in range(args.reps):   # interleaved, order shuffled: no backend always follows the same one
                rng.shuffle(order)
                for b in order:
                    fn = fns[b]
                    t0 = time.perf_counter()
                    fn()
                    times[b].append((time.perf_counter() - t0) * 1e3)
            ms = {b: statistics.median(t) for b, t in times.items()}
            best = min(v for b, v in ms.items() if b != "auto")
            row = dict(dtype=dname, mode=mode, T=T, window=window, choice=name, pick=pick, ms=ms,
                       measured=(autotune.decision(name) or {}).get("ms"),
                       auto_over_sdpa=ms["auto"] / ms["sdpa"], auto_over_best=ms["auto"] / best)
            rows.append(row)
            cells = "".join(f"{ms[b]:>8.2f}" if b in ms else f"{'—':>8}" for b in ("sdpa", "flash", "bmm", "naive", "auto"))
            print(f"{dname:<6}{mode:<8}{T:>6}{f' W{window}' if window else '':>6}  {cells}  {pick:<6} {row['auto_over_sdpa']:>8.2f}x"
                  f"{row['auto_over_best']:>9.2f}x", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threads": torch.get_num_threads(), "cpu": cpu_info().as_dict(), "reps": args.reps,
                       "heads": args.heads, "head_dim": args.head_dim, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
