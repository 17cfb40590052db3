"""Where a step's CPU time goes, per op: the GEMM share and the rest, from torch.profiler (issue 20).

`profile_ops(fn, steps)` runs `fn(0)`, …, `fn(steps - 1)` under torch.profiler (CPU activity) and sums every op's
SELF CPU time: the time spent in the op itself, not in the ops it calls, so nothing is counted twice
(aten::linear -> aten::addmm -> the MKL or oneDNN kernel counts once, in whichever op did the work).
The GEMM share is the self time of the matrix-product ops (GEMM_OPS below: aten's mm family, and
oneDNN's linear and matmul ops underneath lmlab's fp32 linear path and packed decode weights); the
rest is listed by op, the `top` largest, the remainder as one line. Attention kernels (sdpa's fused
CPU kernel) are not GEMMs here: they are listed on their own. The total is the sum of the self times
(time in Python between ops is not in it; `wall_ms` is the profiled wall time, with the profiler's
own overhead). Shared by benchmarks/train_gpt.py and benchmarks/decode_gpt.py (`--profile`).
"""

from __future__ import annotations

import time

GEMM_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::linear",
            "aten::matmul", "aten::_addmm_activation", "aten::mv", "aten::addmv", "aten::dot",
            "aten::mkldnn_linear", "aten::_mkldnn_linear", "mkldnn::_linear_pointwise",
            "aten::mkldnn_matmul", "aten::_weight_int8pack_mm"}


def is_gemm(name: str) -> bool:
    """A matrix-product op (oneDNN's weight reorder, the packing of decode weights, is a copy: not one)."""
    return name in GEMM_OPS or (name.startswith("mkldnn::") and ("linear" in name or "matmul" in name)
                                and "reorder" not in name)


def profile_ops(fn, steps: int, top: int = 8, per: int = 1, unit: str = "step") -> dict:
    """Per step (ms): total self CPU time, the GEMM ops', and the `top` other ops by self time. With `per`,
    per 1/per of a step instead (a decoding call of `per` tokens: ms per token, unit "token")."""
    from torch.profiler import ProfilerActivity, profile

    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            fn(i)
    wall = time.perf_counter() - t0
    self_ms: dict[str, float] = {}
    calls: dict[str, int] = {}
    for evt in prof.key_averages():
        ms = evt.self_cpu_time_total / 1e3 / (steps * per)
        if ms > 0:
            self_ms[evt.key] = self_ms.get(evt.key, 0.0) + ms
            calls[evt.key] = calls.get(evt.key, 0) + round(evt.count / (steps * per))
    total = sum(self_ms.values())
    gemm = {k: v for k, v in self_ms.items() if is_gemm(k)}
    rest = sorted(((k, v) for k, v in self_ms.items() if not is_gemm(k)), key=lambda kv: -kv[1])
    shown = rest[:top]
    return {"steps": steps, "unit": unit, "per": per, "wall_ms": wall * 1e3 / (steps * per), "total_ms": total,
            "gemm_ms": sum(gemm.values()), "gemm_share": sum(gemm.values()) / total if total else 0.0,
            "gemm_ops": {k: round(v, 3) for k, v in sorted(gemm.items(), key=lambda kv: -kv[1])},
            "top_other": [{"op": k, "ms": round(v, 3), "share": v / total, "calls": calls[k]} for k, v in shown],
            "remaining_ms": sum(v for _, v in rest[top:]), "remaining_ops": len(rest) - len(shown),
            "all_ops": {k: round(v, 4) for k, v in sorted(self_ms.items(), key=lambda kv: -kv[1])}}


def format_profile(name: str, p: dict) -> str:
    """The profile as a few printed lines."""
    lines = [f"--- {name}: {p['total_ms']:.2f} ms self CPU per {p['unit']} ({p['wall_ms']:.2f} ms wall, profiled; "
             f"{p['steps']} × {p['per']} {p['unit']}s) ---",
             f"  GEMM {p['gemm_ms']:8.1f} ms {100 * p['gemm_share']:5.1f} %   "
             + ", ".join(f"{k} {v:.1f}" for k, v in list(p["gemm_ops"].items())[:4])]
    for row in p["top_other"]:
        lines.append(f"  {row['op'][:48]:<48} {row['ms']:8.1f} ms {100 * row['share']:5.1f} %  ({row['calls']} calls)")
    share = p["remaining_ms"] / p["total_ms"] if p["total_ms"] else 0.0
    other = f"the other {p['remaining_ops']} ops"
    lines.append(f"  {other:<48} {p['remaining_ms']:8.1f} ms {100 * share:5.1f} %")
    return "\n".join(lines)


def markdown_table(profiles: dict[str, dict]) -> str:
    """Side by side, for BENCHMARKS.md: one column per contestant, GEMM first, then the union of each side's
    top ops (each side's own figure for every one of them), then everything else."""
    names = list(profiles)
    ops: list[str] = []
    for p in profiles.values():
        ops += [r["op"] for r in p["top_other"] if r["op"] not in ops]
    unit = next(iter(profiles.values()))["unit"]
    head = f"| ms per {unit} (self CPU) | " + " | ".join(names) + " |\n| --- |" + " ---: |" * len(names)
    rows = ["| **total** | " + " | ".join(f"**{p['total_ms']:.1f}**" for p in profiles.values()) + " |",
            "| GEMM (mm, addmm, bmm, oneDNN linear …) | "
            + " | ".join(f"{p['gemm_ms']:.1f} ({100 * p['gemm_share']:.0f} %)" for p in profiles.values()) + " |"]
    for op in ops:
        cells = [f"{p['all_ops'].get(op, 0.0):.1f} ({100 * p['all_ops'].get(op, 0.0) / p['total_ms']:.0f} %)"
                 for p in profiles.values()]
        rows.append(f"| `{op}` | " + " | ".join(cells) + " |")
    rest = [p["total_ms"] - p["gemm_ms"] - sum(p["all_ops"].get(op, 0.0) for op in ops) for p in profiles.values()]
    rows.append("| every other op | " + " | ".join(f"{r:.1f}" for r in rest) + " |")
    return head + "\n" + "\n".join(rows)
