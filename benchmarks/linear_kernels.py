"""The three products of a linear layer, by PyTorch's default fp32 kernel and by lmlab's oneDNN path.

    python benchmarks/linear_kernels.py                  # bert-base / gpt2-small shapes, M = 4096 rows
    python benchmarks/linear_kernels.py --rows 2048 --reps 9

For each (K -> N) layer shape and M rows: forward x Wᵀ, input gradient g W, weight gradient gᵀ x,
timed as F.linear / torch.matmul (MKL sgemm for fp32 on the CPU) and as lmlab.ops.linear's kernels
(oneDNN: `torch.ops.mkldnn._linear_pointwise`, operands made contiguous as ops/linear.py does),
interleaved, median of --reps. Prints ms and the speed-up, and for each layer the sum of its three
products both ways beside the kernel lmlab's "auto" picks for that shape (lmlab.ops.autotune: measured
once per CPU, torch version and thread count, cached) and how its time compares with the faster one's
(1.00x: auto chose right; within noise of 1.00x: a near tie). --json writes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from lmlab.ops.cpu import cpu_info
from lmlab.ops.linear import _mm, kernel_for, onednn_available, resolved_kernel

SHAPES = [(768, 768), (768, 3072), (3072, 768)]  # attention projections, FF up, FF down


def products(x: torch.Tensor, w: torch.Tensor, g: torch.Tensor) -> dict:
    """name -> (PyTorch's default kernel, lmlab's oneDNN kernel) for the three products of one layer."""
    return {
        "forward x Wᵀ": (lambda: F.linear(x, w), lambda: _mm(x, w)),
        "input grad g W": (lambda: g @ w, lambda: _mm(g, w.t().contiguous())),
        "weight grad gᵀx": (lambda: g.t() @ x, lambda: _mm(g.t().contiguous(), x.t().contiguous())),
    }


def timed(fn, reps: int) -> list[float]:
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=4096, help="M = batch x tokens (default 4096 = 32 x 128)")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    if not onednn_available():
        raise SystemExit("this PyTorch has no oneDNN")
    torch.manual_seed(0)
    M, rows, layers = args.rows, [], []
    print(f"fp32, M = {M}; CPU {cpu_info().label()}; lmlab's auto picks {resolved_kernel()}")
    print(f"{'K -> N':>12} {'product':<16}{'torch ms':>10}{'oneDNN ms':>11}{'speed-up':>10}")
    with torch.no_grad():
        for K, N in SHAPES:
            cases = products(torch.randn(M, K), torch.randn(N, K) * 0.02, torch.randn(M, N))
            for name, (ref, ours) in cases.items():
                a, b = [], []
                for _ in range(args.reps):  # interleaved, so a busy machine slows both alike
                    a += timed(ref, 1)
                    b += timed(ours, 1)
                ta, tb = statistics.median(a) * 1e3, statistics.median(b) * 1e3
                rows.append(dict(K=K, N=N, M=M, product=name, torch_ms=ta, onednn_ms=tb, speedup=ta / tb))
                print(f"{f'{K} -> {N}':>12} {name:<16}{ta:>10.1f}{tb:>11.1f}{ta / tb:>9.2f}x")
            layer = rows[-3:]
            sums = {k: sum(r[f"{k}_ms"] for r in layer) for k in ("torch", "onednn")}
            pick = kernel_for(M, K, N)   # lmlab's choice for this layer shape (measured once, cached)
            layers.append(dict(K=K, N=N, M=M, **{f"{k}_ms": v for k, v in sums.items()}, auto=pick,
                               auto_over_best=sums[pick] / min(sums.values())))
            print(f"{'':>12} {'all three':<16}{sums['torch']:>10.1f}{sums['onednn']:>11.1f}"
                  f"{sums['torch'] / sums['onednn']:>9.2f}x   auto picks {pick}: "
                  f"{sums[pick] / min(sums.values()):.2f}x the faster one's time")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threads": torch.get_num_threads(), "cpu": cpu_info().as_dict(),
                       "auto_picks": resolved_kernel(), "rows": rows, "layers": layers}, f, indent=1)


if __name__ == "__main__":
    main()
