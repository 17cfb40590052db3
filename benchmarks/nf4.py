"""NF4 (QLoRA's 4-bit NormalFloat): round-trip error vs bitsandbytes and vs plain int4, and NF4Linear's speed.

    python benchmarks/nf4.py                 # ~1 min on 2 CPU cores
    python benchmarks/nf4.py --quick         # smaller shapes, a few seconds

1. Error. Weights drawn from N(0, 0.02²) (how trained transformer weights are distributed, roughly)
   and, as a harder case for a grid built for the normal, from a heavy-tailed Student t (3 degrees
   of freedom, same scale). Each is quantised block-wise and dequantised by
   - lmlab NF4 (lmlab.ops.nf4), with and without double quantisation;
   - bitsandbytes `quantize_4bit(quant_type="nf4")` / `dequantize_4bit`, where installed: the
     table says whether its codes and dequantised values are identical to lmlab's;
   - plain int4 absmax: round(7 · w / absmax) / 7 · absmax, the same blocks (15 evenly spaced levels).
   Reported: mean absolute and root-mean-square error, relative to the weights' RMS.
2. Speed. `NF4Linear` (dequantise ~1M weights at a time, multiply) against `nn.Linear` with the
   full-precision weight, fp32, for a few layer shapes and token counts M. Both run interleaved in
   one process (median of --reps calls each, after a warm-up); the ratio NF4 / nn.Linear is what
   to read. Decoding (M = 1) is where dequantisation dominates: nn.Linear reads 4 bytes a weight,
   NF4Linear reads 0.5 but then writes and reads a rebuilt fp32 chunk.

On a CPU shared with other processes, times are noisy; the ratios are steadier than the times.
Writes JSON (config + rows) to --json (default benchmarks/results/nf4.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from lmlab.nn.nf4_linear import NF4Linear
from lmlab.ops import nf4

DEFAULT_JSON = Path(__file__).parent / "results" / "nf4.json"


def weights(kind: str, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(n, generator=g) * 0.02
    t = torch.distributions.StudentT(3.0)  # heavy tails: a few large weights per block
    torch.manual_seed(seed)
    return t.sample((n,)) * 0.02 / (3.0 ** 0.5)


def errors(w: torch.Tensor, d: torch.Tensor) -> dict[str, float]:
    rms = w.pow(2).mean().sqrt().item()
    e = (d.reshape(-1).float() - w.reshape(-1))
    return {"mae_rel": e.abs().mean().item() / rms, "rmse_rel": e.pow(2).mean().sqrt().item() / rms}


def error_rows(n: int) -> list[dict]:
    try:
        import bitsandbytes.functional as bnb
    except ImportError:
        bnb = None
    rows = []
    for kind in ("normal", "student-t3"):
        w = weights(kind, n).view(-1, 1024)
        for bs in (64, 128):
            for dq in (False, True):
                q = nf4.quantize_nf4(w, bs, dq)
                row = {"weights": kind, "n": n, "blocksize": bs, "double_quant": dq,
                       "bits_per_weight": 8 * q.nbytes / q.numel, "nf4": errors(w, nf4.dequantize_nf4(q))}
                if not dq:
                    idx, absmax = nf4.quantize_blockwise(w, nf4.INT4_CODE, bs)
                    row["int4"] = errors(w, nf4.dequantize_blockwise(idx, absmax, nf4.INT4_CODE, bs))
                if bnb is not None:
                    packed, st = bnb.quantize_4bit(w, blocksize=bs, quant_type="nf4", compress_statistics=dq)
                    theirs = bnb.dequantize_4bit(packed, st)
                    row["bnb"] = errors(w, theirs)
                    row["bnb_same_codes"] = torch.equal(packed.reshape(-1), q.packed)
                    row["bnb_same_values"] = torch.equal(theirs, nf4.dequantize_nf4(q))
                    if dq:  # bitsandbytes' CPU kernel rounds the 8-bit absmax codes on a grid (see the parity test)
                        row["bnb_absmax_codes_differing"] = int((st.absmax != q.absmax).sum())
                        row["absmax_blocks"] = q.absmax.numel()
                rows.append(row)
    return rows


def time_call(f, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return out


@torch.no_grad()
def speed_rows(shapes: list[tuple[int, int]], tokens: list[int], reps: int) -> list[dict]:
    rows = []
    for K, N in shapes:
        torch.manual_seed(0)
        lin = nn.Linear(K, N)
        q = NF4Linear.from_linear(lin, 64, double_quant=True)
        for M in tokens:
            x = torch.randn(M, K)
            lin(x), q(x)  # warm-up
            t_lin, t_nf4 = [], []
            for _ in range(reps):  # interleaved, so a busy moment slows both
                t_lin += time_call(lambda lin=lin, x=x: lin(x), 1)
                t_nf4 += time_call(lambda q=q, x=x: q(x), 1)
            ml, mq = statistics.median(t_lin), statistics.median(t_nf4)
            rows.append({"in_features": K, "out_features": N, "tokens": M, "linear_ms": 1e3 * ml,
                         "nf4_ms": 1e3 * mq, "ratio": mq / ml, "ratio_fastest": min(t_nf4) / min(t_lin)})
            print(f"  {K:>5} -> {N:<5} M={M:<4} nn.Linear {1e3 * ml:8.3f} ms   NF4Linear {1e3 * mq:8.3f} ms   "
                  f"ratio {mq / ml:5.2f}", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small shapes, few repetitions")
    p.add_argument("--reps", type=int, default=15, help="timed calls per (shape, M) and contestant")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice, all cores)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n = 1 << 18 if args.quick else 1 << 22
    shapes = [(768, 768), (768, 3072)] if args.quick else [(768, 768), (768, 3072), (3072, 768), (4096, 4096)]
    tokens = [1, 64] if args.quick else [1, 64, 512]
    reps = 3 if args.quick else args.reps

    print(f"round-trip error, {n:,} weights, relative to their RMS (MAE / RMSE)")
    err = error_rows(n)
    for r in err:
        line = (f"  {r['weights']:<10} block {r['blocksize']:<3} dq {str(r['double_quant']):<5} "
                f"{r['bits_per_weight']:.3f} bits  NF4 {r['nf4']['mae_rel']:.4f} / {r['nf4']['rmse_rel']:.4f}")
        if "int4" in r:
            line += f"   int4 {r['int4']['mae_rel']:.4f} / {r['int4']['rmse_rel']:.4f}"
        if "bnb" in r:
            line += f"   bnb {r['bnb']['mae_rel']:.4f} / {r['bnb']['rmse_rel']:.4f}"
            line += f"  codes {'=' if r['bnb_same_codes'] else '≠'} values {'=' if r['bnb_same_values'] else '≠'}"
            if r["double_quant"]:
                line += f" ({r['bnb_absmax_codes_differing']} of {r['absmax_blocks']} absmax codes differ)"
        print(line)
    print(f"forward, fp32, NF4Linear (block 64, double quant) vs nn.Linear, median of {reps}")
    speed = speed_rows(shapes, tokens, reps)
    try:
        import bitsandbytes
        bnb_version = bitsandbytes.__version__
    except ImportError:
        bnb_version = None
    result = {"config": {"quick": args.quick, "reps": reps, "threads": torch.get_num_threads(),
                         "torch": torch.__version__, "bitsandbytes": bnb_version,
                         "machine": platform.processor() or platform.machine()},
              "errors": err, "speed": speed}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
