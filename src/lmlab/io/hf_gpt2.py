"""Hugging Face GPT-2 checkpoints <-> lmlab GPT: `load_hf_gpt2(path)` and `save_hf_gpt2(model, path)`.

A Hugging Face GPT-2 folder holds `config.json` (GPT2Config fields) and `model.safetensors`.
The two models compute the same function; only names and layouts differ:
- HF's `Conv1D` stores its weight as (in, out), i.e. transposed relative to `nn.Linear` (out, in);
- HF fuses the query, key and value projections into one `c_attn`, (C, 3C) = [q | k | v];
- with tied embeddings HF saves the token-embedding matrix once, without `lm_head.weight`;
- a bias-free lmlab GPT (bias=False, as nanoGPT's) is exported with zero biases: the same function.
Configs that one side cannot express exactly are refused with an LmlabError, never approximated.
The files themselves (reading, checking, atomic writing) are handled in lmlab.io.hf_folder.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch

from lmlab.errors import LmlabError
from lmlab.io.hf_folder import PeftNames, load_strict, read_hf_config, read_weights, write_hf_folder
from lmlab.models.gpt.config import GPTConfig
from lmlab.models.gpt.model import GPT

# ---------------------------------------------------------------------------------------------
# Names. HF keys are shown without their "transformer." prefix; "{i}" is the block index.
#
#   HF GPT-2                     lmlab GPT                     layout
#   wte.weight                   tok_emb.weight                (V, C)
#   wpe.weight                   pos_emb.weight                (T_max, C)
#   h.{i}.ln_1.*                 blocks.{i}.norm1.*            (C,)
#   h.{i}.attn.c_attn.*          blocks.{i}.attn.{q,k,v}_proj.*  Conv1D (C, 3C) -> 3 x Linear (C, C)
#   h.{i}.attn.c_proj.*          blocks.{i}.attn.out_proj.*    Conv1D (C, C), transposed
#   h.{i}.ln_2.*                 blocks.{i}.norm2.*            (C,)
#   h.{i}.mlp.c_fc.*             blocks.{i}.ff.up.*            Conv1D (C, F) -> Linear (F, C)
#   h.{i}.mlp.c_proj.*           blocks.{i}.ff.down.*          Conv1D (F, C) -> Linear (C, F)
#   ln_f.*                       norm_f.*                      (C,)
#   lm_head.weight (untied only) lm_head.weight                (V, C)
# ---------------------------------------------------------------------------------------------
TOP_NAMES = {"wte.weight": "tok_emb.weight", "wpe.weight": "pos_emb.weight",
             "ln_f.weight": "norm_f.weight", "ln_f.bias": "norm_f.bias"}
BLOCK_NAMES = {"ln_1": "norm1", "attn.c_proj": "attn.out_proj", "ln_2": "norm2",
               "mlp.c_fc": "ff.up", "mlp.c_proj": "ff.down"}
CONV1D = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}  # weights stored (in, out)
QKV = ("attn.q_proj", "attn.k_proj", "attn.v_proj")                # lmlab's split of attn.c_attn
BUFFER = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")            # causal-mask buffers of old HF files

# activation_function: HF name -> lmlab name, and back. "gelu_new" is GPT-2's tanh approximation.
ACT_FROM_HF = {"gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu": "gelu_exact", "relu": "relu"}
ACT_TO_HF = {"gelu": "gelu_new", "gelu_exact": "gelu", "relu": "relu"}

# GPT2Config's defaults, used for fields a config.json leaves out.
HF_DEFAULTS = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None,
                   activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
                   layer_norm_epsilon=1e-5, tie_word_embeddings=True, scale_attn_weights=True,
                   scale_attn_by_inverse_layer_idx=False, add_cross_attention=False)


# --------------------------------------------------------------------------------- configs ---

def gpt_config_from_hf(hf: dict[str, Any]) -> GPTConfig:
    """A GPT2Config dict (config.json) -> GPTConfig; refuses what lmlab's GPT cannot compute exactly."""
    hf = {**HF_DEFAULTS, **hf}
    if hf.get("model_type", "gpt2") != "gpt2":
        raise LmlabError(f"config.json has model_type '{hf['model_type']}', not 'gpt2'")
    if hf["scale_attn_by_inverse_layer_idx"]:
        raise LmlabError("scale_attn_by_inverse_layer_idx=True is not supported: lmlab scales attention "
                         "scores by 1/sqrt(head_dim) only")
    if not hf["scale_attn_weights"]:
        raise LmlabError("scale_attn_weights=False is not supported: lmlab always scales attention "
                         "scores by 1/sqrt(head_dim)")
    if hf["add_cross_attention"]:
        raise LmlabError("add_cross_attention=True is not supported: lmlab's GPT is decoder-only")
    act = hf["activation_function"]
    if act not in ACT_FROM_HF:
        raise LmlabError(f"activation_function '{act}' is not supported; "
                         f"supported: {', '.join(ACT_FROM_HF)}")
    drops = {k: hf[k] for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop")}
    if len(set(drops.values())) > 1:  # dropout changes training only, so the weights still load
        warnings.warn(f"lmlab has one dropout rate; using resid_pdrop={hf['resid_pdrop']} of {drops}",
                      stacklevel=2)
    try:
        return GPTConfig(
            vocab_size=hf["vocab_size"], max_seq_len=hf["n_positions"], d_model=hf["n_embd"],
            n_heads=hf["n_head"], n_layers=hf["n_layer"], d_ff=hf["n_inner"] or 0,
            dropout=hf["resid_pdrop"], norm_first=True, tie_embeddings=hf["tie_word_embeddings"],
            pos_embedding="learned", activation=ACT_FROM_HF[act], bias=True,
            norm_eps=hf["layer_norm_epsilon"])
    except ValueError as e:
        raise LmlabError(f"config.json describes an invalid GPT: {e}") from None


def unsupported_by_gpt2(cfg: GPTConfig) -> list[str]:
    """Why GPT-2 cannot compute this GPT, one "field=value (reason)" per setting; empty if it can."""
    checks = [
        (not cfg.norm_first, "norm_first=False (Post-LN; GPT-2 is Pre-LN)"),
        (cfg.pos_embedding != "learned", f"pos_embedding='{cfg.pos_embedding}' (GPT-2 learns its positions)"),
        (cfg.kv_heads != cfg.n_heads,
         f"n_kv_heads={cfg.n_kv_heads} != n_heads={cfg.n_heads} (GPT-2 has no GQA/MQA)"),
        (cfg.activation not in ACT_TO_HF,
         f"activation='{cfg.activation}' (GPT-2 has {', '.join(ACT_TO_HF)})"),
        (cfg.norm != "layernorm", f"norm='{cfg.norm}' (GPT-2 uses LayerNorm)"),
        (cfg.attn_window != 0, f"attn_window={cfg.attn_window} (GPT-2 attends to all tokens)"),
    ]
    return [why for bad, why in checks if bad]


# peft's names of GPT-2's modules, for adapters (lmlab.io.peft_adapters): q, k, v are parts 0, 1, 2 of c_attn
PEFT = PeftNames(
    models=(GPT,), unsupported=unsupported_by_gpt2,
    names={**{rf"blocks\.(?P<i>\d+)\.{re.escape(ours)}": ("transformer.h.{i}.attn.c_attn", part)
              for part, ours in enumerate(QKV)},
           **{rf"blocks\.(?P<i>\d+)\.{re.escape(ours)}": (f"transformer.h.{{i}}.{hf}", None)
              for hf, ours in BLOCK_NAMES.items()},
           "tok_emb": ("transformer.wte", None), "pos_emb": ("transformer.wpe", None),
           "norm_f": ("transformer.ln_f", None), "lm_head": ("lm_head", None)},
    bare_prefix="transformer.", fan_in_fan_out=frozenset(CONV1D))


def hf_config_from_gpt(cfg: GPTConfig, eos_id: int | None = None) -> dict[str, Any]:
    """GPTConfig -> a GPT2Config dict for config.json; refuses GPT variants GPT-2 cannot express.
    eos_id: the tokenizer's end-of-text id (generation stops there), by default GPT-2's own."""
    if problems := unsupported_by_gpt2(cfg):
        raise LmlabError(f"cannot export as Hugging Face GPT-2: {'; '.join(problems)}")
    eot = eos_id if eos_id is not None else 50256 if cfg.vocab_size == 50257 else None  # GPT-2's <|endoftext|>
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.max_seq_len,
        "n_embd": cfg.d_model,
        "n_layer": cfg.n_layers,
        "n_head": cfg.n_heads,
        "n_inner": cfg.d_ff or None,  # None means 4 * n_embd, as d_ff=0 does
        "activation_function": ACT_TO_HF[cfg.activation],
        "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "attn_pdrop": cfg.dropout,
        "layer_norm_epsilon": cfg.norm_eps,
        "tie_word_embeddings": cfg.tie_embeddings,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "bos_token_id": eot,
        "eos_token_id": eot,
    }


# ----------------------------------------------------------------------------- state dicts ---

def _from_hf_state_dict(hf_sd: dict[str, torch.Tensor], tied: bool) -> dict[str, torch.Tensor]:
    """HF GPT-2 tensors -> lmlab GPT tensors; raises on keys it does not know."""
    sd, unknown = {}, []
    for key, t in hf_sd.items():
        name = key.removeprefix("transformer.")
        if name == "lm_head.weight":
            if not tied:           # a tied head is the embedding matrix; a stray copy is ignored, as in HF
                sd["lm_head.weight"] = t
        elif name in TOP_NAMES:
            sd[TOP_NAMES[name]] = t
        elif BUFFER.fullmatch(name):
            continue
        elif m := re.fullmatch(r"h\.(\d+)\.(.+)\.(weight|bias)", name):
            i, module, kind = m.groups()
            if module in CONV1D and kind == "weight":
                t = t.t()          # Conv1D (in, out) -> Linear (out, in)
            if module == "attn.c_attn":  # (3C, C) or (3C,) -> q, k, v
                for part, chunk in zip(QKV, t.chunk(3, dim=0)):
                    sd[f"blocks.{i}.{part}.{kind}"] = chunk
            elif module in BLOCK_NAMES:
                sd[f"blocks.{i}.{BLOCK_NAMES[module]}.{kind}"] = t
            else:
                unknown.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise LmlabError(f"unexpected tensors in the checkpoint: {', '.join(unknown[:5])}"
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    return sd


def _to_hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """lmlab GPT tensors -> HF GPT-2 tensors (with the "transformer." prefix), contiguous, on the CPU."""
    sd = model.state_dict()
    out, used = {}, set()

    def take(name: str) -> torch.Tensor:
        if name not in sd and name.endswith(".bias") and not model.cfg.bias:
            weight = sd[name.removesuffix(".bias") + ".weight"]  # a bias-free model: GPT-2's biases are zeros,
            return torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)  # the same function
        used.add(name)
        return sd[name].detach()

    for hf_name, name in TOP_NAMES.items():
        out[f"transformer.{hf_name}"] = take(name)
    for i in range(model.cfg.n_layers):
        b, h = f"blocks.{i}.", f"transformer.h.{i}."
        for kind in ("weight", "bias"):
            qkv = torch.cat([take(f"{b}{part}.{kind}") for part in QKV])  # (3C, C) or (3C,)
            out[f"{h}attn.c_attn.{kind}"] = qkv.t() if kind == "weight" else qkv
            for hf_module, module in BLOCK_NAMES.items():
                t = take(f"{b}{module}.{kind}")
                out[f"{h}{hf_module}.{kind}"] = t.t() if hf_module in CONV1D and kind == "weight" else t
    used.add("lm_head.weight")
    if not model.cfg.tie_embeddings:  # tied: HF saves wte once and re-ties on load
        out["lm_head.weight"] = sd["lm_head.weight"].detach()
    extra = [k for k in sd if k not in used]
    if extra:  # e.g. a model with LoRA adapters injected: merge them first
        raise LmlabError(f"the model has tensors GPT-2 has no place for: {', '.join(extra[:5])}")
    return {k: v.cpu().contiguous() for k, v in out.items()}


# ------------------------------------------------------------------------------ load / save ---

def load_hf_gpt2(path: str | Path) -> GPT:
    """Build an lmlab GPT from a Hugging Face GPT-2 folder (config.json + model.safetensors).

    The model is built in the default dtype (fp32); fp16/bf16 checkpoints are upcast on load.
    """
    path = Path(path)
    cfg = gpt_config_from_hf(read_hf_config(path))
    sd = _from_hf_state_dict(read_weights(path), cfg.tie_embeddings)
    return load_strict(GPT(cfg), sd, path)


def save_hf_gpt2(model: GPT, path: str | Path, overwrite: bool = False, eos_id: int | None = None) -> None:
    """Write `model` as a Hugging Face GPT-2 folder that `GPT2LMHeadModel.from_pretrained` loads.

    A new folder appears in one rename; with overwrite=True config.json and model.safetensors of an
    existing folder are replaced, and other files there (e.g. tokenizer.json) are left alone.
    """
    hf_cfg = hf_config_from_gpt(model.cfg, eos_id)  # refuse before anything is written
    write_hf_folder(path, hf_cfg, _to_hf_state_dict(model), overwrite=overwrite)
