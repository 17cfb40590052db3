"""How much of a model LoRA trains, and how big its adapter file is: r ∈ {4, 8, 16} on gpt2-small and
bert-base shapes, targets `qkv` and `all-linear`.

    python benchmarks/lora_params.py                    # a few seconds; JSON to benchmarks/results/lora_params.json

The models are built on the meta device (shapes, no memory), the adapters injected with
`lmlab.peft.inject_lora`, counted with `trainable_report`, then given real (zero) tensors and written
by `lmlab.io.peft_adapters.save_adapter` in peft's layout: the file size is that of the real
adapter_model.safetensors (fp32, as lmlab saves it). The count is checked against the formula
r · (in + out) per adapted matrix. gpt2-small's q, k, v adapters are saved as GPT-2's fused c_attn
(one block-diagonal adapter of rank 3r, see lmlab/io/peft_adapters.py), so its file holds zeros that
a peft-made c_attn adapter of rank r would not; the file size column shows what lmlab writes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from torch import nn

from lmlab.io.peft_adapters import ADAPTER_WEIGHTS, save_adapter
from lmlab.models.bert import BertModel
from lmlab.models.bert import preset as bert_preset
from lmlab.models.gpt import GPT
from lmlab.models.gpt import preset as gpt_preset
from lmlab.peft import LoRAConfig, inject_lora, lora_layers, trainable_report

MODELS = {"gpt2-small": lambda: GPT(gpt_preset("gpt2-small")), "bert-base": lambda: BertModel(bert_preset("bert-base"))}


def measure(model_name: str, targets: str, r: int) -> dict:
    with torch.device("meta"):
        model = MODELS[model_name]()
        inject_lora(model, LoRAConfig(r=r, alpha=2 * r, targets=(targets,)))
    rep = trainable_report(model)
    layers = lora_layers(model)
    formula = sum(layer.r * (layer.in_features + layer.out_features) for layer in layers.values())
    assert formula == rep.lora == rep.trainable, (formula, rep)
    for layer in layers.values():  # real tensors for the file (the base stays on meta: it is not saved)
        layer.lora_A = nn.Parameter(torch.zeros(layer.lora_A.shape))
        layer.lora_B = nn.Parameter(torch.zeros(layer.lora_B.shape))
    with tempfile.TemporaryDirectory() as tmp:
        save_adapter(model, Path(tmp) / "adapter")
        size = (Path(tmp) / "adapter" / ADAPTER_WEIGHTS).stat().st_size
    return {"model": model_name, "targets": targets, "r": r, "adapted_layers": len(layers),
            "lora_params": rep.lora, "total_params": rep.total, "base_params": rep.total - rep.lora,
            "trainable_fraction": rep.fraction, "adapter_bytes": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default="benchmarks/results/lora_params.json", help="where to write the rows")
    args = ap.parse_args()
    rows = [measure(m, t, r) for m in MODELS for t in ("qkv", "all-linear") for r in (4, 8, 16)]
    print(f"{'model':<11} {'targets':<11} {'r':>3} {'layers':>6} {'LoRA params':>12} {'base params':>12} "
          f"{'trainable':>9} {'adapter file':>13}")
    for x in rows:
        print(f"{x['model']:<11} {x['targets']:<11} {x['r']:>3} {x['adapted_layers']:>6} {x['lora_params']:>12,} "
              f"{x['base_params']:>12,} {100 * x['trainable_fraction']:>8.3f}% {x['adapter_bytes'] / 2**20:>9.2f} MiB")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"rows": rows, "torch": torch.__version__}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
