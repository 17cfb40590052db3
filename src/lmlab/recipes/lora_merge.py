"""`lmlab lora merge RUN`: fold a LoRA run's adapters into its weights and write a plain run.

W ← W + (α/r)·B·A in every adapted layer (Hu et al. 2021, §4.1: "no additional inference latency"). The
new run has the old one's config.json without its "lora" section, the merged model.safetensors, and
its tokenizer, metrics, plots and results; no train_state.pt (the optimizer state was the adapters').
A QLoRA run (--lora --nf4) is merged the same way into its dequantised NF4 base: the plain run computes
what the QLoRA run computed (float rounding aside), in full precision, and the "quantization" section goes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from torch import nn

from lmlab.config import config_from_dict
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import (
    CONFIG_FILE,
    MODEL_FILE,
    STATE_FILE,
    load_config,
    save_config,
    save_weights,
)
from lmlab.io.peft_adapters import RUN_ADAPTER_DIR
from lmlab.nn.nf4_linear import dequantize_model
from lmlab.peft.lora import lora_layers, merge_lora, run_lora_config
from lmlab.peft.qlora import RUN_SECTION, run_nf4_config
from lmlab.recipes.run_dir import load_run_weights, prepare_run_dir

NOT_COPIED = {CONFIG_FILE, MODEL_FILE, STATE_FILE, RUN_ADAPTER_DIR}


def build_run_model(meta: dict) -> nn.Module:
    """An untrained model of the run's family and shape: gpt, bert (pretraining) or bert-classifier."""
    from lmlab.models.bert import BertConfig
    from lmlab.models.bert.model import BertForPreTraining, BertForSequenceClassification, BertModel
    from lmlab.models.gpt import GPT, GPTConfig

    family = meta.get("family")
    if family == "gpt":
        return GPT(config_from_dict(GPTConfig, meta["model"]))
    if family == "bert":
        return BertForPreTraining(config_from_dict(BertConfig, meta["model"]))
    if family == "bert-classifier":
        ft = meta.get("finetune", {})
        return BertForSequenceClassification(BertModel(config_from_dict(BertConfig, meta["model"])),
                                             len(meta["labels"]), classifier_dropout=ft.get("classifier_dropout"),
                                             pooling=ft.get("pooling", "cls"))
    raise LmlabError(f"cannot merge a '{family}' run; LoRA runs are gpt, bert and bert-classifier runs")


def load_run_as_saved(run: Path, meta: dict) -> tuple[nn.Module, int]:
    """A run's model as its checkpoint holds it (NF4 layers and LoRA adapters kept, nothing merged), its step."""
    model = build_run_model(meta)
    return model, load_run_weights(run, model, meta, plain=False)


@torch.no_grad()
def probe(model: nn.Module, family: str) -> torch.Tensor:
    """The model's output on a fixed random batch (2 × 16 tokens), to show that merging keeps the function."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (2, min(16, cfg.max_seq_len)), generator=g)
    out = model.eval()(ids)
    return out.mlm_logits if family == "bert" else out


def merge_run(run: str | Path, out: str | Path | None = None, overwrite: bool = False) -> dict:
    """Write the merged plain run of LoRA run `run` to `out` (default: RUN-merged); returns what was done."""
    run = Path(run)
    out = Path(out) if out is not None else run.with_name(run.name + "-merged")
    meta = load_config(run)
    lora = run_lora_config(meta)
    if lora is None:
        raise LmlabError(f"{run} was not trained with --lora (its config.json has no 'lora' section); "
                         "nothing to merge")
    if out.resolve() == run.resolve():
        raise LmlabError("--out must differ from the run: a merged run replaces no LoRA run in place")
    nf4 = run_nf4_config(meta)  # a QLoRA run (--nf4): its base is stored in NF4
    model, step = load_run_as_saved(run, meta)
    n_layers = len(lora_layers(model))
    before = probe(model, meta["family"])
    if nf4 is not None:
        dequantize_model(model)  # W = the NF4 weight, dequantised: what the run trained on
    merge_lora(model)
    diff = (probe(model, meta["family"]) - before).abs().max().item()

    out = prepare_run_dir(out, resume=False, overwrite=overwrite)
    for item in run.iterdir():
        if item.name not in NOT_COPIED and not item.name.startswith("."):
            (shutil.copytree if item.is_dir() else shutil.copyfile)(item, out / item.name)
    merged_meta = {k: v for k, v in meta.items() if k not in ("lora", RUN_SECTION)}
    save_config(out, {**merged_meta, "merged_from": str(run.resolve()), "merged_lora": meta["lora"],
                      **({"merged_quantization": meta[RUN_SECTION]} if nf4 is not None else {})})
    save_weights(out, model, step)
    return {"out": str(out), "family": meta["family"], "n_layers": n_layers, "max_abs_diff": diff, "step": step}
