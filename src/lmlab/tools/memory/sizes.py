"""What the memory bill (bill.py) and the activation accounting (activations.py) both count with:
bytes per value, a line of the bill, and the parameters of the pieces LoRA and QLoRA treat differently."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lmlab.models.gpt.presets import count_parameters

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class Item:
    """One line of the bill: a name, its size in bytes, and how it was computed."""
    name: str
    bytes: float
    formula: str


# ---- parameters of the pieces that LoRA and QLoRA treat differently -------------------------------
def block_matrix_parameters(cfg) -> int:
    """Weights of the linear layers inside the blocks (what QLoRA quantises): attention + FF matrices."""
    C, kv = cfg.d_model, cfg.kv_heads * cfg.head_dim
    n_mats = 3 if cfg.activation == "swiglu" else 2
    return cfg.n_layers * (2 * C * C + 2 * C * kv + n_mats * C * cfg.ff_dim)


def lora_parameters(cfg, rank: int) -> int:
    """B·A beside q, k, v and out_proj of every block, r·(d_in + d_out) each."""
    C, kv = cfg.d_model, cfg.kv_heads * cfg.head_dim
    return cfg.n_layers * rank * ((C + C) + 2 * (C + kv) + (C + C))


def layer_parameters(cfg) -> int:
    """Parameters of one block (count_parameters' difference between 2 and 1 layers)."""
    return count_parameters(dataclasses.replace(cfg, n_layers=2)) - count_parameters(
        dataclasses.replace(cfg, n_layers=1))
