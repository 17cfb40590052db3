"""`lmlab info --system`: this machine as lmlab sees it, and the kernels lmlab will use on it.

The CPU model and the units that decide kernel speed (AVX2, AVX-512, AMX, native bf16), the threads,
the torch build, two quick measurements (an fp32 and bf16 matmul's GFLOP/s, the memory copy bandwidth
that bounds decoding) and every kernel choice of lmlab.ops.autotune with the timings behind it.
"""

from __future__ import annotations

import torch

from lmlab.nn.packed_linear import packing_pays, packing_supported
from lmlab.ops import autotune
from lmlab.ops.cpu import cpu_count, cpu_info, matmul_gflops, memory_bandwidth, torch_build
from lmlab.ops.linear import CHOICE, choice_name, kernel_setting, onednn_available, resolved_kernel
from lmlab.train.kernels import cpu_train_dtype

LINEAR = choice_name(2048, 768, 3072)  # the shape `resolved_kernel` stands for
KERNEL_NAMES = {  # autotune's choice names, as the report calls them
    LINEAR: "linear fp32 768->3072",
    "train_dtype": "training --dtype auto",
    "decode_weights_fp32": "decode weights, fp32",
    "decode_weights_bf16": "decode weights, bf16",
}  # (the linear kernel at 2048 rows; other shapes and row counts are measured when first met)


def measurements() -> dict[str, float]:
    """A second or two of timing: fp32 and bf16 1024² matmul GFLOP/s, copy bandwidth GB/s."""
    return {"fp32_gflops": matmul_gflops(1024, torch.float32), "bf16_gflops": matmul_gflops(1024, torch.bfloat16),
            "bandwidth_gbs": memory_bandwidth(256)}


def choose_all() -> dict[str, str]:
    """Make (or read from the cache) every kernel decision lmlab takes on this CPU."""
    chosen = {LINEAR: resolved_kernel(), "train_dtype": cpu_train_dtype()}
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        if packing_supported(torch.empty(0, dtype=dtype)):
            chosen[f"decode_weights_{name}"] = "packed" if packing_pays(dtype) else "plain"
    return chosen


def _why(name: str) -> str:
    entry = autotune.decision(name) if autotune.enabled() else None
    if not entry or not isinstance(entry.get("ms"), dict):
        return "(from the CPU's features: autotuning is off)" if not autotune.enabled() else ""
    return "(measured: " + ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(entry["ms"].items(), key=lambda kv: kv[1])) + ")"


def report(measure: bool = True) -> list[str]:
    """The lines `lmlab info --system` prints. `measure` False skips the matmul and bandwidth timings."""
    info = cpu_info()
    bf16 = "native bf16 (" + ", ".join(sorted({"avx512_bf16", "amx_bf16"} & info.flags) or ["oneDNN"]) + ")" \
        if info.bf16 else "no native bf16 (bf16 is emulated through fp32)"
    lines = [f"CPU             {info.model}",
             f"features        {', '.join(info.features()) or 'none of AVX2, AVX-512, AMX'}; {bf16}; "
             f"torch dispatches {info.capability} code",
             f"threads         {info.threads} torch threads, {cpu_count()} CPUs available",
             f"torch           {torch_build()}" + ("" if onednn_available() else " (no oneDNN linear)")]
    if measure and autotune.enabled():
        m = measurements()
        lines += [f"matmul peak     fp32 {m['fp32_gflops']:.0f} GFLOP/s, bf16 {m['bf16_gflops']:.0f} GFLOP/s "
                  "(1024² torch.mm, median of 5)",
                  f"memory          {m['bandwidth_gbs']:.1f} GB/s (copying 256 MB, read + write)"]
    else:
        lines.append("matmul, memory  not measured (LMLAB_AUTOTUNE=0)")
    chosen = choose_all()
    forced = kernel_setting() != "auto"
    lines.append("kernels lmlab will use" + (f" (linear forced to {kernel_setting()})" if forced else "") + ":")
    lines += [f"  {KERNEL_NAMES[k]:<24}{v} {_why(k)}".rstrip() for k, v in chosen.items()]
    shapes = {k: v["choice"] for k, v in autotune.cached().items() if k.startswith(CHOICE + "/") and k != LINEAR}
    if shapes:
        by = {kernel: sum(1 for v in shapes.values() if v == kernel) for kernel in sorted(set(shapes.values()))}
        lines.append(f"  {'linear fp32, others':<24}" + ", ".join(f"{k} for {n}" for k, n in by.items())
                     + " (each layer shape is measured the first time it trains here)")
    where = autotune.cache_path()
    lines.append(f"cache           {where}" + (" (present)" if where.exists() else " (none)")
                 + f"\n  key           {autotune.cache_key()}"
                 "\n  clear it with `lmlab info --system --clear-cache`; LMLAB_AUTOTUNE=0 turns measuring off")
    return lines
