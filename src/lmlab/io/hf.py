"""Hugging Face model folders: `load_hf(path)` and `save_hf(model, path)` for every family lmlab converts.

Only the dispatch lives here: load_hf picks the converter by config.json's `model_type`, save_hf the
Hugging Face architecture that computes the same function. The converters (hf_gpt2.py, hf_llama.py,
hf_bert.py, hf_vit.py) hold the names and layouts; the folder's files are read and written by hf_folder.py.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from lmlab.errors import LmlabError
from lmlab.io.hf_bert import HEADS, load_hf_bert, save_hf_bert
from lmlab.io.hf_folder import CONFIG_FILE, read_hf_config
from lmlab.io.hf_gpt2 import load_hf_gpt2, save_hf_gpt2, unsupported_by_gpt2
from lmlab.io.hf_llama import load_hf_llama, save_hf_llama, unsupported_by_llama
from lmlab.io.hf_resnet import load_hf_resnet, save_hf_resnet
from lmlab.io.hf_vit import load_hf_vit, save_hf_vit
from lmlab.models.cnn.model import CNN
from lmlab.models.gpt.model import GPT
from lmlab.models.vit.model import ViTForImageClassification


def load_hf(path: str | Path) -> nn.Module:
    """Build an lmlab model from a Hugging Face folder, chosen by config.json's model_type: a GPT from
    GPT-2 or Llama, a BERT (BertModel or the head named in `architectures`) from BERT, a CNN from ResNet,
    a ViT from ViT."""
    loaders = {"bert": load_hf_bert, "gpt2": load_hf_gpt2, "llama": load_hf_llama, "resnet": load_hf_resnet,
               "vit": load_hf_vit}
    model_type = read_hf_config(Path(path)).get("model_type")
    if model_type not in loaders:
        found = f"model_type '{model_type}'" if model_type else "no model_type"
        raise LmlabError(f"{Path(path) / CONFIG_FILE} has {found}; lmlab converts model_type "
                         f"{', '.join(repr(t) for t in list(loaders)[:-1])} and {list(loaders)[-1]!r} only")
    return loaders[model_type](path)


def save_hf(model: nn.Module, path: str | Path, overwrite: bool = False, *, eos_id: int | None = None,
            labels: list[str] | None = None) -> str:
    """Write `model` as the Hugging Face architecture that computes the same function; returns its
    model_type ("gpt2", "llama", "bert", "resnet" or "vit"). A GPT that neither GPT-2 nor Llama can express is
    refused, with the reasons; a BERT (BertModel or a head) is written as HF BERT, a ResNet and a ViT as their HF
    classifiers (other CNNs and ViTs refused, saying why). eos_id: a GPT's end-of-text token (where generation
    stops); labels: a classifier's class names."""
    if any(type(model) is cls for cls, _, _ in HEADS.values()):
        save_hf_bert(model, path, overwrite=overwrite, labels=labels)
        return "bert"
    if isinstance(model, CNN):  # a ResNet as ResNetForImageClassification (other CNNs are refused there)
        save_hf_resnet(model, path, overwrite=overwrite, labels=labels)
        return "resnet"
    if isinstance(model, ViTForImageClassification):
        save_hf_vit(model, path, overwrite=overwrite, labels=labels)
        return "vit"
    if not isinstance(model, GPT):
        raise LmlabError(f"cannot export a {type(model).__name__} as a Hugging Face model (GPT, BERT, ResNet or ViT only)")

    not_gpt2, not_llama = unsupported_by_gpt2(model.cfg), unsupported_by_llama(model.cfg)
    if not not_gpt2:
        save_hf_gpt2(model, path, overwrite=overwrite, eos_id=eos_id)
        return "gpt2"
    if not not_llama:
        save_hf_llama(model, path, overwrite=overwrite, eos_id=eos_id)
        return "llama"
    raise LmlabError("cannot export as a Hugging Face model: neither GPT-2 nor Llama computes this GPT "
                     f"(not GPT-2: {'; '.join(not_gpt2)}. not Llama: {'; '.join(not_llama)})")
