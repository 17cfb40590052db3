"""QLoRA: LoRA adapters on a frozen base model stored in 4-bit NormalFloat (Dettmers et al. 2023,
"QLoRA: Efficient Finetuning of Quantized LLMs").

The notes (002, V.1.2): the base weights W are frozen during LoRA training, so they can be kept in
a cheaper form. QLoRA stores them in NF4 (lmlab.nn.nf4_linear's NF4Linear over lmlab.ops.nf4: 4-bit
codes, one absmax per block of 64, the absmaxes themselves in 8 bits) and dequantises them on the fly,
a piece at a time, whenever a product with W is needed; only the adapters A and B (and their optimizer
states) are in 16/32 bits. Memory for a 7B model: 14 GB of bf16 weights become about 3.6 GB.

- `prepare_qlora(model, LoRAConfig(...))` = quantize_model + inject_lora: LoRALinear(NF4Linear).
  Gradients reach A, B and the inputs; the NF4 buffers never change.
- `run_nf4_section` / `run_nf4_config`: the NF4 settings in a run's config.json.
"""

from __future__ import annotations

from torch import nn

from lmlab.errors import LmlabError
from lmlab.nn.nf4_linear import NF4Config, quantize_model
from lmlab.peft.lora import LoRAConfig, inject_lora


def prepare_qlora(model: nn.Module, lora: LoRAConfig,
                  nf4: NF4Config | None = None) -> tuple[list[str], list[str]]:
    """QLoRA in place: quantise the base (nf4.targets; default NF4Config()) to NF4, then wrap lora.targets in
    LoRALinear and freeze everything else. Returns (quantised layer names, LoRA layer names)."""
    quantised = quantize_model(model, nf4 or NF4Config())
    return quantised, inject_lora(model, lora)


# ---- NF4 in a run directory (config.json's "quantization" section) -------------------------------------
RUN_SECTION = "quantization"


def run_nf4_section(cfg: NF4Config, qlora: bool) -> dict:
    """The settings a run records to rebuild its NF4 layers (`lmlab quantize nf4` adds measurements)."""
    return {"method": "nf4", "blocksize": cfg.blocksize, "double_quant": cfg.double_quant,
            "targets": list(cfg.targets), "compute_dtype": cfg.compute_dtype,
            "nominal_bits_per_weight": cfg.bits_per_weight, **({"qlora": True} if qlora else {})}


def run_nf4_config(meta: dict) -> NF4Config | None:
    """The NF4Config of a run's config.json ("quantization" section), or None for a run without one."""
    q = meta.get(RUN_SECTION)
    if q is None:
        return None
    try:
        return NF4Config(blocksize=q["blocksize"], double_quant=q["double_quant"], targets=tuple(q["targets"]),
                         compute_dtype=q.get("compute_dtype"))
    except (KeyError, TypeError, ValueError) as e:
        raise LmlabError(f"the run's config.json has a damaged {RUN_SECTION!r} section ({e!r}); restore it "
                         "or retrain") from None
