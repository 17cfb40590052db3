"""Adapters for a recipe: `apply_lora` puts LoRA on a model, or QLoRA when an NF4 base is asked for.

It imports both lora.py and qlora.py, so that lora.py need not import qlora.py (which imports lora.py).
"""

from __future__ import annotations

from torch import nn

from lmlab.errors import LmlabError
from lmlab.nn.nf4_linear import NF4Config, nf4_memory
from lmlab.peft.lora import LoRAConfig, TrainableReport, inject_lora, trainable_report
from lmlab.peft.qlora import prepare_qlora


def apply_lora(model: nn.Module, cfg: LoRAConfig | None, quiet: bool = True,
               nf4: NF4Config | None = None) -> TrainableReport | None:
    """inject_lora for a recipe: nothing without a config; prints the trainable-parameter report unless quiet.
    With `nf4` (an NF4Config) the base's linear layers are first stored in 4-bit NF4: QLoRA (prepare_qlora)."""
    if cfg is None:
        if nf4 is not None:
            raise LmlabError("NF4 (QLoRA) quantises the frozen base under LoRA adapters: it needs a LoRA config")
        return None
    base = ""
    if nf4 is not None:
        quantised, names = prepare_qlora(model, cfg, nf4)
        mem = nf4_memory(model)
        base = (f"; base: {len(quantised)} linear layers in NF4, {mem['weights']:,} weights at "
                f"{mem['bits_per_weight']:.3f} bits (buffers, not counted below)")
    else:
        names = inject_lora(model, cfg)
    report = trainable_report(model)
    if not quiet:
        print(f"{'QLoRA' if nf4 is not None else 'LoRA'} r={cfg.r} alpha={cfg.alpha:g} (scale {cfg.scaling:.4g}"
              f"{', rsLoRA' if cfg.rslora else ''}) on {len(names)} layers ({', '.join(cfg.targets)}){base}; "
              f"{report}")
    return report
