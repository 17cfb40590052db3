"""Parameter-efficient fine-tuning: LoRA (inject, merge, unmerge; adapters in peft's layout) and QLoRA."""

from lmlab.peft.lora import (
    PRESETS,
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
# QLoRA (frozen NF4 base + LoRA) lives in lmlab.peft.qlora.
