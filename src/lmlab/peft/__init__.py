"""Parameter-efficient fine-tuning: LoRA (inject, merge, unmerge; adapters in peft's layout) and QLoRA."""

from lmlab.nn.surgery import PRESETS
from lmlab.peft.lora import (
    LoRAConfig,
    LoRAEmbedding,
    LoRALinear,
    TrainableReport,
    inject_lora,
    lora_layers,
    merge_lora,
    parse_lora_spec,
    trainable_report,
)

__all__ = ["PRESETS", "LoRAConfig", "LoRAEmbedding", "LoRALinear", "TrainableReport", "inject_lora", "lora_layers",
           "merge_lora", "parse_lora_spec", "trainable_report"]
# QLoRA (frozen NF4 base + LoRA) lives in lmlab.peft.qlora, apply_lora (either, for a recipe) in lmlab.peft.apply;
# the NF4 layer itself in lmlab.nn.nf4_linear.
