"""`lmlab info --system`: this machine as lmlab sees it, and the kernels lmlab will use on it.

The CPU model and the units that decide kernel speed (AVX2, AVX-512, AMX, native bf16), the threads,
the torch build, two quick measurements (an fp32 and bf16 matmul's GFLOP/s, the memory copy bandwidth
that bounds decoding) and every kernel choice of lmlab.ops.autotune with the timings behind it (the
fp32 linear kernel, the training dtype, packed decode weights, the attention backend of "auto").
"""

from __future__ import annotations

import torch

from lmlab.generate.precision import CHOICE as DECODE_DTYPE
from lmlab.nn.packed_linear import packing_pays, packing_supported
from lmlab.ops import autotune
from lmlab.ops.attention import AUTO, AttentionMask, auto_backend, choice_name
from lmlab.ops.cpu import cpu_count, cpu_info, matmul_gflops, memory_bandwidth, torch_build
from lmlab.ops.linear import CHOICE, kernel_setting, onednn_available, resolved_kernel
from lmlab.ops.linear import choice_name as linear_choice
from lmlab.train.kernels import cpu_train_dtype

LINEAR = linear_choice(2048, 768, 3072)  # the shape `resolved_kernel` stands for
# attn_backend auto at GPT-2 small's heads (12 × 64, batch 1): training on 256 tokens, decoding at 1,024 cached
ATTN_TRAIN = f"{AUTO}/float32/train/causal/D64/q256k256"
ATTN_DECODE = f"{AUTO}/float32/decode/none/D64/q1k1024"
KERNEL_NAMES = {  # autotune's choice names, as the report calls them
    LINEAR: "linear fp32 768->3072",
    "train_dtype": "training --dtype auto",
    "decode_weights_fp32": "decode weights, fp32",
    "decode_weights_bf16": "decode weights, bf16",
    ATTN_TRAIN: "attention, train T256",
    ATTN_DECODE: "attention, decode @1024",
}  # (the linear kernel at 2048 rows; other shapes and row counts are measured when first met)


def measurements() -> dict[str, float]:
    """A second or two of timing: fp32 and bf16 1024² matmul GFLOP/s, copy bandwidth GB/s."""
    return {"fp32_gflops": matmul_gflops(1024, torch.float32), "bf16_gflops": matmul_gflops(1024, torch.bfloat16),
            "bandwidth_gbs": memory_bandwidth(256)}


def attention_choice(mode: str) -> tuple[str, str]:
    """(choice name, backend) of attn_backend auto at GPT-2 small's heads, causal: `mode` train or decode."""
    t_q, t_k = (256, 256) if mode == "train" else (1, 1024)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 12, t_q, 64, generator=g, requires_grad=mode == "train")
    k = v = torch.randn(1, 12, t_k, 64, generator=g)
    spec = AttentionMask.build(t_q, t_k, causal=True)
    with torch.set_grad_enabled(mode == "train"):
        return choice_name(q, k, spec, mode), auto_backend(q, k, v, spec, 0.0)


def choose_all() -> dict[str, str]:
    """Make (or read from the cache) every kernel decision lmlab takes on this CPU."""
    chosen = {LINEAR: resolved_kernel(), "train_dtype": cpu_train_dtype()}
    chosen.update(dict(attention_choice(mode) for mode in ("train", "decode")))
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
    for prefix, label, when in ((AUTO, "attention, others", "each kind of call is measured the first time it runs"),
                                (DECODE_DTYPE, "generate --dtype auto", "each model shape is measured the first "
                                                                         "time it decodes with --dtype auto")):
        calls = {k: v["choice"] for k, v in autotune.cached().items()
                 if k.startswith(prefix + "/") and k not in (ATTN_TRAIN, ATTN_DECODE)}
        if calls:
            by = {kernel: sum(1 for v in calls.values() if v == kernel) for kernel in sorted(set(calls.values()))}
            lines.append(f"  {label:<24}" + ", ".join(f"{k} for {n}" for k, n in by.items()) + f" ({when})")
    where = autotune.cache_path()
    lines.append(f"cache           {where}" + (" (present)" if where.exists() else " (none)")
                 + f"\n  key           {autotune.cache_key()}"
                 "\n  clear it with `lmlab info --system --clear-cache`; LMLAB_AUTOTUNE=0 turns measuring off")
    return lines
