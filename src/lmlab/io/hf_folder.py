"""The files of a Hugging Face model folder, which every converter (hf_gpt2, hf_llama, hf_bert, hf_vit) shares.

A Hugging Face model folder holds `config.json` (its `model_type` names the architecture) and the
weights as `model.safetensors`, or as shards listed in `model.safetensors.index.json`. This module
keeps what all converters share, the files, and leaves the names and layouts to one module per
architecture (hf_gpt2.py, hf_llama.py, hf_bert.py; lmlab.runs.hf picks one by model_type, asking the
family registry):
- reading config.json and the weights, with messages that say what is wrong with the folder;
- a strict check before `load_state_dict`: every tensor the model needs, nothing more, right shapes;
- writing a folder so that nobody ever sees it half-written;
- the settings HF's encoder configs (BERT, ViT) spell alike: `hidden_act` and the two dropout rates;
- the shape of the module-name tables that peft adapters use (`PeftNames`; the tables sit beside each
  converter, lmlab.io.peft_adapters looks them up by model_type).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from lmlab.config import load_json
from lmlab.errors import LmlabError
from lmlab.io.atomic import write_json_and_tensors

CONFIG_FILE, WEIGHTS_FILE, INDEX_FILE = "config.json", "model.safetensors", "model.safetensors.index.json"

# hidden_act of HF's BERT and ViT configs -> lmlab's activation, and back; their "gelu" is the exact erf form.
ACT_FROM_HF = {"gelu": "gelu_exact", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "relu": "relu"}
ACT_TO_HF = {"gelu_exact": "gelu", "gelu": "gelu_new", "relu": "relu"}


def encoder_act_and_dropout(hf: dict[str, Any]) -> tuple[str, float]:
    """lmlab's activation and its one dropout rate from an HF encoder config (BERT, ViT); refuses an activation
    lmlab lacks, warns when the two HF dropout rates differ (training only: the weights still load)."""
    act = hf["hidden_act"]
    if act not in ACT_FROM_HF:
        raise LmlabError(f"hidden_act='{act}' is not supported; supported: {', '.join(ACT_FROM_HF)}")
    if hf["hidden_dropout_prob"] != hf["attention_probs_dropout_prob"]:
        warnings.warn(f"lmlab has one dropout rate; using hidden_dropout_prob={hf['hidden_dropout_prob']} "
                      f"(attention_probs_dropout_prob={hf['attention_probs_dropout_prob']})", stacklevel=3)
    return ACT_FROM_HF[act], hf["hidden_dropout_prob"]


@dataclass(frozen=True)
class PeftNames:
    """How peft names the modules of one Hugging Face architecture, for LoRA adapters (lmlab.io.peft_adapters).

    names: a regex over an lmlab module name -> (the HF module, a format string filled with the regex's named
    groups; which part of a fused HF module the lmlab module is, e.g. q/k/v = 0/1/2 of GPT-2's c_attn, else None).
    """
    models: tuple[type, ...]                      # the lmlab classes whose modules these are
    unsupported: Callable[[Any], list[str]]       # (model config) -> why the architecture cannot compute it
    names: Mapping[str, tuple[str, int | None]]
    bare_prefix: str = ""                         # what an adapter made on the bare model (GPT2Model) leaves out
    fan_in_fan_out: frozenset[str] = frozenset()  # modules that store weights (in, out): GPT-2's Conv1D

    def hf_name(self, name: str) -> tuple[str, int | None] | None:
        """lmlab module name -> (HF module name, part), or None where the architecture has no such module."""
        for pattern, (template, part) in self.names.items():
            if m := re.fullmatch(pattern, name):
                return template.format(**m.groupdict()), part
        return None


# ---------------------------------------------------------------------------------- reading ---

def read_hf_config(path: Path) -> dict[str, Any]:
    """The config.json of an HF model folder as a dict."""
    if not (path / CONFIG_FILE).is_file():
        raise LmlabError(f"{path} has no {CONFIG_FILE}: is it a Hugging Face model folder?")
    return load_json(path / CONFIG_FILE)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """model.safetensors, or the shards named by model.safetensors.index.json."""
    try:
        if (path / WEIGHTS_FILE).is_file():
            return load_file(str(path / WEIGHTS_FILE))
        if (path / INDEX_FILE).is_file():
            shards = sorted(set(json.loads((path / INDEX_FILE).read_text())["weight_map"].values()))
            out = {}
            for shard in shards:
                out.update(load_file(str(path / shard)))
            return out
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise LmlabError(f"cannot read the weights in {path}: {e}") from None
    hint = (" (pytorch_model.bin is a pickle and is not loaded; re-save it with safe_serialization=True)"
            if (path / "pytorch_model.bin").exists() else "")
    raise LmlabError(f"{path} has no {WEIGHTS_FILE} or {INDEX_FILE}{hint}")


def load_strict(model: nn.Module, sd: dict[str, torch.Tensor], path: Path,
                optional: set[str] | None = None) -> nn.Module:
    """Load converted tensors `sd` into `model` after checking that they are exactly what it needs.

    `load_state_dict(strict=True)` would say much the same, but as a traceback about the model;
    here the message blames the folder, lists the first few offenders and names wrong shapes.
    optional: names the folder need not hold (tied copies, freshly initialised heads); default: a
    GPT's lm_head.weight when it is tied.
    """
    own = model.state_dict()
    if optional is None:
        optional = {"lm_head.weight"} if getattr(model.cfg, "tie_embeddings", False) else set()
    expected = set(own) - optional
    missing, unexpected = sorted(expected - set(sd)), sorted(set(sd) - expected)
    wrong = [f"{k} {tuple(sd[k].shape)} (model wants {tuple(own[k].shape)})"
             for k in sorted(expected & set(sd)) if sd[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(filter(None, [f"missing {', '.join(missing[:5])}" if missing else "",
                                         f"unexpected {', '.join(unexpected[:5])}" if unexpected else "",
                                         f"wrong shape {', '.join(wrong[:3])}" if wrong else ""]))
        raise LmlabError(f"{path} does not match its {CONFIG_FILE}: {detail}")
    model.load_state_dict(sd, strict=False)  # strictness checked above; a tied weight keeps its tie
    return model


# ---------------------------------------------------------------------------------- writing ---

def write_hf_folder(path: str | Path, hf_cfg: dict[str, Any], tensors: dict[str, torch.Tensor],
                    overwrite: bool = False) -> None:
    """Write config.json + model.safetensors into folder `path` (see write_json_and_tensors)."""
    hf_cfg = {**hf_cfg, "dtype": str(next(iter(tensors.values())).dtype).removeprefix("torch.")}
    write_json_and_tensors(path, CONFIG_FILE, hf_cfg, WEIGHTS_FILE, tensors, overwrite)
