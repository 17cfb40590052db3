"""bf16 or fp32 for decoding, chosen by measurement (`lmlab generate --dtype auto`; issue 20).

Decoding one token at batch 1 streams every weight from memory once, so bf16 weights (half the bytes)
can decode nearly twice as fast, and on a CPU with native bf16 units (AVX512_BF16, AMX) they do. On a
CPU without them each bf16 product is converted through fp32, which may cost more than the bytes save.
Which wins depends on the processor and on the model's shape, so "auto" times it: a few greedy decoding
steps of the model itself (a copy cast to bf16 beside the fp32 one, through lmlab's own decoding path,
packed weights included), interleaved, once per model shape, CPU, torch version and thread count
(lmlab.ops.autotune; with LMLAB_AUTOTUNE=0, bf16 exactly where the CPU has native bf16). An explicit
`--dtype bf16` on a CPU without native bf16 is obeyed, with a warning that names the measured cost.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from lmlab.generate.decoding import GenerationConfig
from lmlab.generate.text import generate_ids
from lmlab.ops import autotune
from lmlab.ops.cpu import CpuInfo, cpu_info

CHOICE = "decode_dtype"          # autotune's choices are named decode_dtype/<parameters>p<tensors>t
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
PROMPT, STEPS = 8, 8             # the measured work: an 8-token prompt, then 8 greedy tokens


def choice_name(model: nn.Module) -> str:
    """The model's shape as a choice name: its parameter count and number of parameter tensors."""
    params = list(model.parameters())
    return f"{CHOICE}/{sum(p.numel() for p in params)}p{len(params)}t"


def _candidates(model: nn.Module) -> dict:
    """Greedy decoding of STEPS tokens after a PROMPT-token prompt, by the model in fp32 and a bf16 copy."""
    fp32 = model.float()
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    cfg = GenerationConfig(max_new_tokens=STEPS, temperature=0.0)
    prompt = [[0] * PROMPT]
    return {name: (lambda m=m: generate_ids(m, prompt, cfg)) for name, m in (("fp32", fp32), ("bf16", bf16))}


def default_dtype(device: torch.device, info: CpuInfo | None = None) -> str:
    """What the hardware predicts: bf16 where it has native bf16 units (a CUDA GPU that supports it, a CPU
    with AVX512_BF16 or AMX), else fp32."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if (info or cpu_info()).bf16 else "fp32"


def decode_dtype(model: nn.Module, requested: str = "auto") -> str:
    """fp32 or bf16 to decode `model` (fp32 weights) in: `requested` unless it is "auto"; auto: the faster of
    the two for this model on this CPU (measured once, cached), the hardware's default elsewhere."""
    if requested not in (*DTYPES, "auto"):
        raise ValueError(f"decoding dtype must be fp32, bf16 or auto; got {requested!r}")
    if requested != "auto":
        return requested
    device = next(model.parameters()).device
    if device.type != "cpu":
        return default_dtype(device)
    return autotune.choose(choice_name(model), lambda: _candidates(model), default_dtype(device), reps=3)


def bf16_warning(model: nn.Module, dtype: str, info: CpuInfo | None = None) -> str | None:
    """For bf16 decoding on a CPU without native bf16 (`info`: this one by default): what it costs here,
    measured on this model (per token), and what to do."""
    if dtype != "bf16" or next(model.parameters()).device.type != "cpu":
        return None
    info = info or cpu_info()
    if info.bf16:
        return None
    decode_dtype(model, "auto")
    ms = (autotune.decision(choice_name(model)) or {}).get("ms", {})
    if ms.get("fp32") and ms.get("bf16"):
        ratio = ms["bf16"] / ms["fp32"]
        cost = (f"decoding this model in bf16 measured {ms['bf16'] / STEPS:.1f} ms a token against "
                f"{ms['fp32'] / STEPS:.1f} in fp32 here ({ratio:.2f}× the time"
                + ("; faster all the same, from moving half the bytes)" if ratio < 1 else ")"))
    else:
        cost = "its products are emulated through fp32 (not measured: LMLAB_AUTOTUNE=0)"
    return (f"this CPU ({info.model}) has no native bf16: {cost}; --dtype auto decodes in whichever of "
            "fp32 and bf16 is faster here")
