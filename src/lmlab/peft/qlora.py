"""QLoRA: LoRA adapters on a frozen base model stored in 4-bit NormalFloat (Dettmers et al. 2023,
"QLoRA: Efficient Finetuning of Quantized LLMs").

The notes (002, V.1.2): the base weights W are frozen during LoRA training, so they can be kept in
a cheaper form. QLoRA stores them in NF4 (lmlab.nn.nf4_linear's NF4Linear over lmlab.ops.nf4: 4-bit
codes, one absmax per block of 64, the absmaxes themselves in 8 bits) and dequantises them on the fly,
a piece at a time, whenever a product with W is needed; only the adapters A and B (and their optimizer
states) are in 16/32 bits. Memory for a 7B model: 14 GB of bf16 weights become about 3.6 GB.

- `prepare_qlora(model, LoRAConfig(...))` = quantize_model + inject_lora: LoRALinear(NF4Linear).
  Gradients reach A, B and the inputs; the NF4 buffers never change.
"""

from __future__ import annotations

from torch import nn

from lmlab.nn.nf4_linear import NF4Config, quantize_model
from lmlab.peft.lora import LoRAConfig, inject_lora


def prepare_qlora(model: nn.Module, lora: LoRAConfig,
                  nf4: NF4Config | None = None) -> tuple[list[str], list[str]]:
    """QLoRA in place: quantise the base (nf4.targets; default NF4Config()) to NF4, then wrap lora.targets in
    LoRALinear and freeze everything else. Returns (quantised layer names, LoRA layer names)."""
    quantised = quantize_model(model, nf4 or NF4Config())
    return quantised, inject_lora(model, lora)
