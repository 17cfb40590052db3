"""Hugging Face BERT checkpoints <-> lmlab BERT: `load_hf_bert(path, head)` and `save_hf_bert(model, path)`.

A Hugging Face BERT folder holds `config.json` (BertConfig fields, `architectures` naming the head)
and `model.safetensors`. The two models compute the same function; only the names differ (the
layouts are the same: both use nn.Linear with separate query, key and value projections):
- heads prefix the encoder with "bert." in both; a bare BertModel has no prefix in either;
- the MLM decoder weight is the word-embedding matrix (tied), so it is not read or written; its bias
  is saved by HF as `cls.predictions.bias` (and, in some files, again as `cls.predictions.decoder.bias`);
- old TensorFlow-converted files name LayerNorm parameters gamma/beta instead of weight/bias.
Configs that lmlab cannot compute exactly are refused with an LmlabError naming the field.
The files themselves (reading, checking, atomic writing) are handled in lmlab.io.hf_folder.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lmlab.errors import LmlabError
from lmlab.io.hf_folder import (
    ACT_TO_HF,
    PeftNames,
    encoder_act_and_dropout,
    load_strict,
    read_hf_config,
    read_weights,
    write_hf_folder,
)
from lmlab.models.bert.config import BertConfig
from lmlab.models.bert.model import (
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)

# ---------------------------------------------------------------------------------------------
# Names. Encoder keys are shown without the "bert." prefix that heads add on both sides; "{i}" is
# the layer index. Every tensor has the same layout on both sides.
#
#   HF BERT                                        lmlab BERT                    shape
#   embeddings.word_embeddings.weight              emb.tok_emb.weight            (V, C)
#   embeddings.token_type_embeddings.weight        emb.seg_emb.weight            (n_segments, C)
#   embeddings.position_embeddings.weight          emb.pos_emb.weight            (T_max, C)
#   embeddings.LayerNorm.*                         emb.norm.*                    (C,)
#   encoder.layer.{i}.attention.self.query.*       blocks.{i}.attn.q_proj.*      (C, C), (C,)
#   encoder.layer.{i}.attention.self.key.*         blocks.{i}.attn.k_proj.*
#   encoder.layer.{i}.attention.self.value.*       blocks.{i}.attn.v_proj.*
#   encoder.layer.{i}.attention.output.dense.*     blocks.{i}.attn.out_proj.*
#   encoder.layer.{i}.attention.output.LayerNorm.* blocks.{i}.norm1.*            Post-LN: after attention
#   encoder.layer.{i}.intermediate.dense.*         blocks.{i}.ff.up.*            (F, C), (F,)
#   encoder.layer.{i}.output.dense.*               blocks.{i}.ff.down.*          (C, F), (C,)
#   encoder.layer.{i}.output.LayerNorm.*           blocks.{i}.norm2.*            Post-LN: after the FFN
#   pooler.dense.*                                 pooler.dense.*                (C, C), (C,)
#   (none: HF BERT is Post-LN only)                norm_f.*                      Pre-LN's final norm
# Heads (no prefix on either side):
#   cls.predictions.transform.dense.*              mlm.dense.*                   (C, C), (C,)
#   cls.predictions.transform.LayerNorm.*          mlm.norm.*                    (C,)
#   cls.predictions.decoder.weight (tied)          mlm.decoder.weight (tied)     = word embeddings
#   cls.predictions.bias                           mlm.decoder.bias              (V,)
#   cls.seq_relationship.*                         nsp.*                         (2, C), (2,)
#   classifier.*                                   classifier.*                  (n_classes, C), (n_classes,)
#   qa_outputs.*                                   qa_outputs.*                  (2, C), (2,): start, end
# ---------------------------------------------------------------------------------------------
EMB_NAMES = {"word_embeddings": "tok_emb", "token_type_embeddings": "seg_emb",
             "position_embeddings": "pos_emb", "LayerNorm": "norm"}
LAYER_NAMES = {"attention.self.query": "attn.q_proj", "attention.self.key": "attn.k_proj",
               "attention.self.value": "attn.v_proj", "attention.output.dense": "attn.out_proj",
               "attention.output.LayerNorm": "norm1", "intermediate.dense": "ff.up",
               "output.dense": "ff.down", "output.LayerNorm": "norm2"}
HEAD_NAMES = {"cls.predictions.transform.dense": "mlm.dense", "cls.predictions.transform.LayerNorm": "mlm.norm",
              "cls.seq_relationship": "nsp", "classifier": "classifier", "qa_outputs": "qa_outputs"}
TIED = "mlm.decoder.weight"
IGNORED = re.compile(r"(bert\.)?embeddings\.position_ids|cls\.predictions\.decoder\.weight")

# head name -> (lmlab class, HF architecture, has a pooler in HF)
HEADS = {
    "base": (BertModel, "BertModel", True),
    "pretraining": (BertForPreTraining, "BertForPreTraining", True),
    "mlm": (BertForMaskedLM, "BertForMaskedLM", False),
    "sequence": (BertForSequenceClassification, "BertForSequenceClassification", True),
    "token": (BertForTokenClassification, "BertForTokenClassification", False),
    "qa": (BertForQuestionAnswering, "BertForQuestionAnswering", False),
}
HEAD_OF_ARCH = {arch: head for head, (_, arch, _) in HEADS.items()}
CLASSIFIERS = (BertForSequenceClassification, BertForTokenClassification)


# transformers' BertConfig defaults, used for fields a config.json leaves out.
HF_DEFAULTS = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                   intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                   attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                   layer_norm_eps=1e-12, pad_token_id=0, classifier_dropout=None, is_decoder=False,
                   add_cross_attention=False, tie_word_embeddings=True, position_embedding_type="absolute")


# --------------------------------------------------------------------------------- configs ---

def bert_config_from_hf(hf: dict[str, Any]) -> BertConfig:
    """A BertConfig dict (config.json) -> lmlab BertConfig; refuses what lmlab cannot compute exactly."""
    hf = {**HF_DEFAULTS, **hf}
    if hf.get("model_type", "bert") != "bert":
        raise LmlabError(f"config.json has model_type '{hf['model_type']}', not 'bert'")
    if hf["position_embedding_type"] != "absolute":
        raise LmlabError(f"position_embedding_type='{hf['position_embedding_type']}' is not supported: "
                         "lmlab's BERT adds absolute learned positions only")
    if hf["is_decoder"]:
        raise LmlabError("is_decoder=True is not supported: lmlab's BERT is a bidirectional encoder")
    if hf["add_cross_attention"]:
        raise LmlabError("add_cross_attention=True is not supported: lmlab's BERT has no cross-attention")
    activation, dropout = encoder_act_and_dropout(hf)
    C, F = hf["hidden_size"], hf["intermediate_size"]
    try:
        return BertConfig(
            vocab_size=hf["vocab_size"], max_seq_len=hf["max_position_embeddings"],
            type_vocab_size=hf["type_vocab_size"], d_model=C, n_heads=hf["num_attention_heads"],
            n_layers=hf["num_hidden_layers"], d_ff=0 if F == 4 * C else F, dropout=dropout,
            norm_eps=hf["layer_norm_eps"], norm_first=False, activation=activation,
            pad_id=hf["pad_token_id"] or 0)
    except ValueError as e:
        raise LmlabError(f"config.json describes an invalid BERT: {e}") from None


def unsupported_by_bert(cfg: BertConfig) -> list[str]:
    """Why HF BERT cannot compute this lmlab BERT, one "field=value (reason)" per setting; empty if it can."""
    return ["norm_first=True (Pre-LN; HF BERT is Post-LN)"] if cfg.norm_first else []


def hf_config_from_bert(cfg: BertConfig, architecture: str = "BertForPreTraining", n_classes: int | None = None,
                        labels: list[str] | None = None) -> dict[str, Any]:
    """lmlab BertConfig -> a BertConfig dict for config.json; refuses variants HF BERT cannot express.
    A classifier's classes are named by `labels` (LABEL_0, LABEL_1 … without)."""
    if why := unsupported_by_bert(cfg):
        raise LmlabError(f"cannot export as Hugging Face BERT: {'; '.join(why)}")
    out = {
        "model_type": "bert",
        "architectures": [architecture],
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "intermediate_size": cfg.ff_dim,
        "hidden_act": ACT_TO_HF[cfg.activation],
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.dropout,
        "max_position_embeddings": cfg.max_seq_len,
        "type_vocab_size": cfg.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": cfg.norm_eps,
        "pad_token_id": cfg.pad_id,
        "is_decoder": False,
        "add_cross_attention": False,
        "tie_word_embeddings": True,
    }
    if n_classes is not None:
        names = ([str(x) for x in labels] if labels and len(labels) == n_classes
                 else [f"LABEL_{i}" for i in range(n_classes)])
        out["id2label"] = {str(i): name for i, name in enumerate(names)}
        out["label2id"] = {name: i for i, name in enumerate(names)}
    return out


# peft's names of BERT's modules, for adapters (lmlab.io.peft_adapters): the encoder under "bert." in a head
# and bare in a BertModel, on both sides (group p); the heads' modules without a prefix on either side
_P = r"(?P<p>(?:bert\.)?)"
PEFT = PeftNames(
    models=tuple(cls for cls, _, _ in HEADS.values()), unsupported=unsupported_by_bert,
    names={**{rf"{_P}blocks\.(?P<i>\d+)\.{re.escape(ours)}": (f"{{p}}encoder.layer.{{i}}.{hf}", None)
              for hf, ours in LAYER_NAMES.items()},
           **{rf"{_P}emb\.{re.escape(ours)}": (f"{{p}}embeddings.{hf}", None) for hf, ours in EMB_NAMES.items()},
           rf"{_P}pooler\.dense": ("{p}pooler.dense", None),
           **{re.escape(ours): (hf, None) for hf, ours in HEAD_NAMES.items()}},
    bare_prefix="bert.")


# ----------------------------------------------------------------------------- state dicts ---

def _from_hf_state_dict(hf_sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """HF BERT tensors -> (encoder tensors named as in BertModel, head tensors named as in the heads)."""
    enc, head, unknown = {}, {}, []
    for key, t in hf_sd.items():
        key = re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", key))  # TF-era LayerNorm names
        name = key.removeprefix("bert.")
        if IGNORED.fullmatch(key):
            continue
        if name in ("cls.predictions.bias", "cls.predictions.decoder.bias"):
            head["mlm.decoder.bias"] = t
        elif m := re.fullmatch(r"embeddings\.(\w+)\.(weight|bias)", name):
            if m[1] not in EMB_NAMES:
                unknown.append(key)
                continue
            enc[f"emb.{EMB_NAMES[m[1]]}.{m[2]}"] = t
        elif m := re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name):
            if m[2] not in LAYER_NAMES:
                unknown.append(key)
                continue
            enc[f"blocks.{m[1]}.{LAYER_NAMES[m[2]]}.{m[3]}"] = t
        elif m := re.fullmatch(r"pooler\.dense\.(weight|bias)", name):
            enc[name] = t
        elif (m := re.fullmatch(r"(.+)\.(weight|bias)", name)) and m[1] in HEAD_NAMES:
            head[f"{HEAD_NAMES[m[1]]}.{m[2]}"] = t
        else:
            unknown.append(key)
    if unknown:
        raise LmlabError(f"unexpected tensors in the checkpoint: {', '.join(unknown[:5])}"
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    return enc, head


def _to_hf_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """lmlab BERT tensors -> HF BERT tensors, contiguous, on the CPU (the tied decoder weight left out)."""
    inv_emb = {v: k for k, v in EMB_NAMES.items()}
    inv_layer = {v: k for k, v in LAYER_NAMES.items()}
    inv_head = {v: k for k, v in HEAD_NAMES.items()}
    prefix = "" if isinstance(model, BertModel) else "bert."
    out, extra = {}, []
    for name, t in model.state_dict().items():
        enc_name = name[len(prefix):] if name.startswith(prefix) else None   # None: a head tensor
        if name == TIED:
            continue
        if name == "mlm.decoder.bias":
            out["cls.predictions.bias"] = t
        elif enc_name is not None and (m := re.fullmatch(r"emb\.(\w+)\.(weight|bias)", enc_name)):
            out[f"{prefix}embeddings.{inv_emb[m[1]]}.{m[2]}"] = t
        elif enc_name is not None and (m := re.fullmatch(r"blocks\.(\d+)\.(.+)\.(weight|bias)", enc_name)) \
                and m[2] in inv_layer:
            out[f"{prefix}encoder.layer.{m[1]}.{inv_layer[m[2]]}.{m[3]}"] = t
        elif enc_name is not None and enc_name.startswith("pooler.dense."):
            out[prefix + enc_name] = t
        elif (m := re.fullmatch(r"(.+)\.(weight|bias)", name)) and m[1] in inv_head:
            out[f"{inv_head[m[1]]}.{m[2]}"] = t
        else:
            extra.append(name)
    if extra:  # e.g. a model with LoRA adapters injected: merge them first
        raise LmlabError(f"the model has tensors HF BERT has no place for: {', '.join(extra[:5])}")
    return {k: v.detach().cpu().contiguous() for k, v in out.items()}


# ------------------------------------------------------------------------------ load / save ---

def _replaceable(name: str) -> bool:
    """Head and pooler tensors: may be missing (fresh init) or left over (dropped) when heads differ."""
    return name.startswith(("mlm.", "nsp.", "classifier.", "qa_outputs.")) or "pooler.dense." in name


def _n_classes(hf: dict[str, Any]) -> int:
    return len(hf["id2label"]) if hf.get("id2label") else int(hf.get("num_labels", 2))


def load_hf_bert(path: str | Path, head: str = "auto") -> nn.Module:
    """Build an lmlab BERT from a Hugging Face BERT folder (config.json + model.safetensors).

    head: "base" (BertModel), "pretraining", "mlm", "sequence", "token", "qa", or "auto" (the folder's
    architectures[0]; BertModel if none). The encoder must be complete. Head tensors (and the pooler)
    the folder lacks, e.g. a classifier on top of a pre-trained checkpoint, keep their fresh BERT init,
    with a warning; head tensors the chosen head has no place for are dropped. The model is built in
    fp32; fp16/bf16 checkpoints are upcast on load.
    """
    path = Path(path)
    hf = read_hf_config(path)
    cfg = bert_config_from_hf(hf)
    if head == "auto":
        arch = (hf.get("architectures") or ["BertModel"])[0]
        if arch not in HEAD_OF_ARCH:
            raise LmlabError(f"architectures[0]='{arch}' has no lmlab twin; pass head= one of {', '.join(HEADS)}")
        head = HEAD_OF_ARCH[arch]
    if head not in HEADS:
        raise LmlabError(f"unknown head '{head}'; choose from auto, {', '.join(HEADS)}")
    cls = HEADS[head][0]
    enc, head_sd = _from_hf_state_dict(read_weights(path))
    has_pooler = "pooler.dense.weight" in enc
    if cls in (BertForPreTraining, BertForMaskedLM) and not hf.get("tie_word_embeddings", True):
        raise LmlabError("tie_word_embeddings=False is not supported: lmlab's MLM decoder is the word embeddings")

    if cls is BertModel:
        model, sd, prefix = BertModel(cfg, pooler=has_pooler), {}, ""
    else:
        encoder = BertModel(cfg, pooler=HEADS[head][2])                       # as the HF class has it
        model = cls(encoder, _n_classes(hf)) if cls in CLASSIFIERS else cls(encoder)
        sd, prefix = dict(head_sd), "bert."
    sd.update({prefix + k: v for k, v in enc.items()})
    own = model.state_dict()
    sd = {k: v for k, v in sd.items() if k in own or not _replaceable(k)}   # drop other heads' tensors
    fresh = {k for k in own if k not in sd and _replaceable(k) and k != TIED}
    if fresh:
        warnings.warn(f"{path} has no {', '.join(sorted(fresh))}: newly initialised (train before use)",
                      stacklevel=2)
    return load_strict(model, sd, path, optional=fresh | {TIED})


def save_hf_bert(model: nn.Module, path: str | Path, overwrite: bool = False, labels: list[str] | None = None) -> None:
    """Write an lmlab BERT (BertModel or a head) as a Hugging Face BERT folder that the matching
    transformers class (`BertModel`, `BertForPreTraining` …, named in config.json's architectures) loads.

    A new folder appears in one rename; with overwrite=True config.json and model.safetensors of an
    existing folder are replaced, and other files there (e.g. tokenizer.json) are left alone.
    """
    arch = next((a for c, a, _ in HEADS.values() if type(model) is c), None)
    if arch is None:
        raise LmlabError(f"cannot export a {type(model).__name__} as Hugging Face BERT")
    if getattr(model, "pooling", "cls") != "cls":
        raise LmlabError(f"cannot export a classifier with {model.pooling} pooling as Hugging Face BERT: "
                         "BertForSequenceClassification reads the pooled [CLS]")
    cfg = model.cfg
    n_classes = model.classifier.out_features if isinstance(model, CLASSIFIERS) else None
    hf_cfg = hf_config_from_bert(cfg, arch, n_classes, labels)  # refuse before anything is written
    write_hf_folder(path, hf_cfg, _to_hf_state_dict(model), overwrite=overwrite)
