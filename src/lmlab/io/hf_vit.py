"""Hugging Face ViT checkpoints <-> lmlab ViT: `load_hf_vit(path)` and `save_hf_vit(model, path)`.

A Hugging Face ViT folder holds `config.json` (ViTConfig fields; `architectures` names ViTModel or
ViTForImageClassification) and `model.safetensors`, with the tensor names of the released checkpoints
(google/vit-base-patch16-224), which transformers still writes and reads. Both models compute the
same function; names differ, and three layouts: [CLS] is (1, 1, C) in HF and (C,) here, the position
table (1, 1 + N, C) there and (1 + N, C) here. HF's ViTModel becomes an lmlab ViTForImageClassification
without classifier (n_classes = 0), with the pooler if the folder has one; ViTForImageClassification
(no pooler, a linear head on [CLS]) becomes one with n_classes = the folder's labels.
Refused, each with the reason: HF configs lmlab cannot compute (qkv_bias=False, non-square images or
patches, another pooler activation), and lmlab ViTs HF cannot (a stride other than the patch size,
mean pooling, a pooler under a classifier).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lmlab.errors import LmlabError
from lmlab.io.hf_folder import (
    ACT_TO_HF,
    encoder_act_and_dropout,
    load_strict,
    read_hf_config,
    read_weights,
    write_hf_folder,
)
from lmlab.io.hf_resnet import luma_split
from lmlab.models.vit.config import ViTConfig
from lmlab.models.vit.model import ViTForImageClassification, ViTModel

# ---------------------------------------------------------------------------------------------
# Names. Encoder keys carry the "vit." prefix on both sides in a classifier, none in HF's ViTModel.
#
#   HF ViT                                            lmlab ViT                      shape
#   embeddings.cls_token                              emb.cls_token                  (1, 1, C) <-> (C,)
#   embeddings.position_embeddings                    emb.pos_emb.weight             (1, 1+N, C) <-> (1+N, C)
#   embeddings.patch_embeddings.projection.*          emb.patch_proj.*               (C, ch, P, P), (C,)
#   encoder.layer.{i}.layernorm_before.*              blocks.{i}.norm1.*             Pre-LN
#   encoder.layer.{i}.attention.attention.query.*     blocks.{i}.attn.q_proj.*       (C, C), (C,)
#   encoder.layer.{i}.attention.attention.key.*       blocks.{i}.attn.k_proj.*
#   encoder.layer.{i}.attention.attention.value.*     blocks.{i}.attn.v_proj.*
#   encoder.layer.{i}.attention.output.dense.*        blocks.{i}.attn.out_proj.*
#   encoder.layer.{i}.layernorm_after.*               blocks.{i}.norm2.*
#   encoder.layer.{i}.intermediate.dense.*            blocks.{i}.ff.up.*             (F, C), (F,)
#   encoder.layer.{i}.output.dense.*                  blocks.{i}.ff.down.*           (C, F), (C,)
#   layernorm.*                                       norm_f.*                       (C,)
#   pooler.dense.*                                    pooler.*                       (C, C), (C,)
#   classifier.* (no prefix)                          classifier.*                   (n_classes, C)
# ---------------------------------------------------------------------------------------------
EMB_NAMES = {"cls_token": "cls_token", "position_embeddings": "pos_emb.weight",
             "patch_embeddings.projection.weight": "patch_proj.weight",
             "patch_embeddings.projection.bias": "patch_proj.bias"}
LAYER_NAMES = {"layernorm_before": "norm1", "attention.attention.query": "attn.q_proj",
               "attention.attention.key": "attn.k_proj", "attention.attention.value": "attn.v_proj",
               "attention.output.dense": "attn.out_proj", "layernorm_after": "norm2",
               "intermediate.dense": "ff.up", "output.dense": "ff.down"}
LEADING_ONES = {"cls_token": (1, 1), "position_embeddings": (1, -1)}  # HF's extra batch dimensions
TOP_NAMES = {"layernorm": "norm_f", "pooler.dense": "pooler"}
ARCHS = ("ViTModel", "ViTForImageClassification")


# transformers' ViTConfig defaults, used for fields a config.json leaves out.
HF_DEFAULTS = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                   hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                   layer_norm_eps=1e-12, image_size=224, patch_size=16, num_channels=3, qkv_bias=True,
                   pooler_output_size=None, pooler_act="tanh")


# --------------------------------------------------------------------------------- configs ---

def _side(hf: dict[str, Any], key: str) -> int:
    """image_size / patch_size as one int: HF allows [h, w]; lmlab's are square."""
    v = hf[key]
    if isinstance(v, (list, tuple)):
        if len(v) != 2 or v[0] != v[1]:
            raise LmlabError(f"{key}={v} is not supported: lmlab's ViT takes square images and patches")
        v = v[0]
    return int(v)


def vit_config_from_hf(hf: dict[str, Any], has_pooler: bool, n_classes: int) -> ViTConfig:
    """A ViTConfig dict (config.json) -> lmlab ViTConfig; refuses what lmlab cannot compute exactly."""
    hf = {**HF_DEFAULTS, **hf}
    if hf.get("model_type", "vit") != "vit":
        raise LmlabError(f"config.json has model_type '{hf['model_type']}', not 'vit'")
    if not hf["qkv_bias"]:
        raise LmlabError("qkv_bias=False is not supported: lmlab's attention has biases on all four projections")
    if hf["pooler_act"] != "tanh" and has_pooler:
        raise LmlabError(f"pooler_act='{hf['pooler_act']}' is not supported: lmlab's pooler is dense + tanh")
    if hf["pooler_output_size"] not in (None, hf["hidden_size"]) and has_pooler:
        raise LmlabError(f"pooler_output_size={hf['pooler_output_size']} is not supported: lmlab's pooler keeps "
                         f"hidden_size ({hf['hidden_size']})")
    activation, dropout = encoder_act_and_dropout(hf)
    C, F = hf["hidden_size"], hf["intermediate_size"]
    try:
        return ViTConfig(image_size=_side(hf, "image_size"), patch_size=_side(hf, "patch_size"), stride=0,
                         n_channels=hf["num_channels"], d_model=C, n_heads=hf["num_attention_heads"],
                         n_layers=hf["num_hidden_layers"], d_ff=0 if F == 4 * C else F,
                         dropout=dropout, norm_eps=hf["layer_norm_eps"],
                         activation=activation, pool="cls", pooler=has_pooler, n_classes=n_classes)
    except ValueError as e:
        raise LmlabError(f"config.json describes a ViT lmlab cannot build: {e}") from None


def unsupported_by_hf(cfg: ViTConfig) -> list[str]:
    """Why Hugging Face's ViTModel / ViTForImageClassification cannot compute this lmlab ViT (empty: it can)."""
    why = []
    if cfg.patch_stride != cfg.patch_size:
        why.append(f"stride {cfg.patch_stride} ≠ patch_size {cfg.patch_size} (overlapping or spaced patches; "
                   "HF's patch embedding steps by the patch size)")
    if cfg.pool != "cls":
        why.append(f"pool='{cfg.pool}' (ViTForImageClassification reads [CLS])")
    if cfg.pooler and cfg.n_classes:
        why.append("a pooler under the classifier (ViTForImageClassification has none)")
    return why


def hf_config_from_vit(cfg: ViTConfig, labels: list[str] | None = None) -> dict[str, Any]:
    """lmlab ViTConfig -> a ViTConfig dict for config.json (labels: the class names, default LABEL_i); refuses
    what HF ViT cannot express."""
    why = unsupported_by_hf(cfg)
    if why:
        raise LmlabError(f"cannot export as Hugging Face ViT: {'; '.join(why)}")
    out = {"model_type": "vit", "architectures": [ARCHS[bool(cfg.n_classes)]],
           "hidden_size": cfg.d_model, "num_hidden_layers": cfg.n_layers, "num_attention_heads": cfg.n_heads,
           "intermediate_size": cfg.ff_dim, "hidden_act": ACT_TO_HF[cfg.activation],
           "hidden_dropout_prob": cfg.dropout, "attention_probs_dropout_prob": cfg.dropout,
           "initializer_range": 0.02, "layer_norm_eps": cfg.norm_eps, "image_size": cfg.image_size,
           "patch_size": cfg.patch_size, "num_channels": cfg.n_channels, "qkv_bias": True,
           "encoder_stride": cfg.patch_size, "pooler_act": "tanh", "pooler_output_size": cfg.d_model}
    if cfg.n_classes:
        labels = labels or [f"LABEL_{i}" for i in range(cfg.n_classes)]
        out["id2label"] = {str(i): name for i, name in enumerate(labels)}
        out["label2id"] = {name: i for i, name in enumerate(labels)}
    return out


# ----------------------------------------------------------------------------- state dicts ---

def _from_hf_state_dict(hf_sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HF ViT tensors -> lmlab ViTForImageClassification tensors."""
    out, unknown = {}, []
    for key, t in hf_sd.items():
        name = key.removeprefix("vit.")
        if name.startswith("classifier."):
            out[name] = t
        elif (m := re.fullmatch(r"embeddings\.(.+)", name)) and m[1] in EMB_NAMES:
            out[f"vit.emb.{EMB_NAMES[m[1]]}"] = t.reshape(-1, t.shape[-1]).squeeze(0) if m[1] in LEADING_ONES else t
        elif (m := re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name)) and m[2] in LAYER_NAMES:
            out[f"vit.blocks.{m[1]}.{LAYER_NAMES[m[2]]}.{m[3]}"] = t
        elif (m := re.fullmatch(r"(.+)\.(weight|bias)", name)) and m[1] in TOP_NAMES:
            out[f"vit.{TOP_NAMES[m[1]]}.{m[2]}"] = t
        elif name != "embeddings.mask_token":  # masked-image-modelling only; not used by these classes
            unknown.append(key)
    if unknown:
        raise LmlabError(f"unexpected tensors in the checkpoint: {', '.join(unknown[:5])}"
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    return out


def _to_hf_state_dict(model: ViTForImageClassification) -> dict[str, torch.Tensor]:
    """lmlab ViT tensors -> HF ViT tensors, contiguous, on the CPU ("vit." prefixed under a classifier)."""
    inv_emb = {v: k for k, v in EMB_NAMES.items()}
    inv_layer = {v: k for k, v in LAYER_NAMES.items()}
    inv_top = {v: k for k, v in TOP_NAMES.items()}
    prefix = "vit." if model.cfg.n_classes else ""
    out, extra = {}, []
    for name, t in model.state_dict().items():
        enc = name.removeprefix("vit.")
        if name.startswith("classifier."):
            out[name] = t
        elif (m := re.fullmatch(r"emb\.(.+)", enc)) and m[1] in inv_emb:
            key = inv_emb[m[1]]
            out[f"{prefix}embeddings.{key}"] = t.reshape(LEADING_ONES[key] + t.shape[-1:]) if key in LEADING_ONES else t
        elif (m := re.fullmatch(r"blocks\.(\d+)\.(.+)\.(weight|bias)", enc)) and m[2] in inv_layer:
            out[f"{prefix}encoder.layer.{m[1]}.{inv_layer[m[2]]}.{m[3]}"] = t
        elif (m := re.fullmatch(r"(.+)\.(weight|bias)", enc)) and m[1] in inv_top:
            out[f"{prefix}{inv_top[m[1]]}.{m[2]}"] = t
        else:
            extra.append(name)
    if extra:  # e.g. a model with LoRA adapters injected: merge them first
        raise LmlabError(f"the model has tensors HF ViT has no place for: {', '.join(extra[:5])}")
    return {k: v.detach().cpu().contiguous() for k, v in out.items()}


# ------------------------------------------------------------------------------ load / save ---

def load_hf_vit(path: str | Path) -> ViTForImageClassification:
    """An lmlab ViT from a Hugging Face ViT folder (config.json + model.safetensors): a classifier with the
    folder's labels for ViTForImageClassification, one without (n_classes = 0) for ViTModel. Built in fp32."""
    path = Path(path)
    hf = read_hf_config(path)
    arch = (hf.get("architectures") or ["ViTModel"])[0]
    if arch not in ARCHS:
        raise LmlabError(f"{path}: architectures[0]='{arch}' has no lmlab twin; lmlab converts {' and '.join(ARCHS)}")
    sd = _from_hf_state_dict(read_weights(path))
    n_classes = sd["classifier.weight"].shape[0] if "classifier.weight" in sd else 0
    cfg = vit_config_from_hf(hf, has_pooler="vit.pooler.weight" in sd, n_classes=n_classes)
    model = ViTForImageClassification(cfg)
    return load_strict(model, {k: v.float() for k, v in sd.items()}, path, optional=set())


def rgb_twin(model: ViTForImageClassification) -> ViTForImageClassification:
    """A grey (1-channel) ViT as the RGB one that computes the same on grey images: the patch projection split
    over R, G, B by the luma weights (as io.hf_resnet.rgb_twin does for a CNN). Pipelines feed RGB, hence this."""
    twin = ViTForImageClassification(dataclasses.replace(model.cfg, n_channels=3))
    sd = model.state_dict()
    sd["vit.emb.patch_proj.weight"] = luma_split(sd["vit.emb.patch_proj.weight"])
    twin.load_state_dict(sd)
    return twin.train(model.training)


def save_hf_vit(model: nn.Module, path: str | Path, overwrite: bool = False, labels: list[str] | None = None) -> str:
    """Write an lmlab ViTForImageClassification as a Hugging Face ViT folder: ViTForImageClassification, or
    ViTModel when n_classes = 0 (a grey model as its RGB twin); returns the architecture written. Refused,
    before anything is written, when HF ViT cannot compute it (see unsupported_by_hf)."""
    if not isinstance(model, ViTForImageClassification):
        hint = " (wrap it: ViTForImageClassification(encoder) with n_classes=0)" if isinstance(model, ViTModel) else ""
        raise LmlabError(f"cannot export a {type(model).__name__} as Hugging Face ViT{hint}")
    if model.cfg.n_channels == 1:
        model = rgb_twin(model)
    hf_cfg = hf_config_from_vit(model.cfg, labels)  # refuse before anything is written
    write_hf_folder(path, hf_cfg, _to_hf_state_dict(model), overwrite=overwrite)
    return hf_cfg["architectures"][0]
