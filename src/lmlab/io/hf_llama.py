"""Hugging Face Llama checkpoints <-> lmlab GPT: `load_hf_llama(path)` and `save_hf_llama(model, path)`.

Llama is lmlab's GPT with rotary positions, RMSNorm, a SwiGLU feed-forward, no biases and (often)
grouped-query attention, so a Llama folder loads into `GPT` without any new model code. The
conversion is a renaming only:
- every matrix is an `nn.Linear` on both sides, (out, in), so nothing is transposed;
- q, k and v stay separate projections (k and v have n_kv_heads * head_dim rows under GQA/MQA);
- both sides rotate channel pairs (i, i + D/2) ("rotate_half"), so q_proj/k_proj need no permutation
  (checkpoints converted from Meta's original files are already permuted into this layout);
- with tied embeddings HF saves the token-embedding matrix once, without `lm_head.weight`.
Configs that one side cannot express exactly are refused with an LmlabError, never approximated.
The files themselves (reading, checking, atomic writing) are handled in lmlab.io.hf_folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from lmlab.errors import LmlabError
from lmlab.io.hf_folder import PeftNames, load_strict, read_hf_config, read_weights, write_hf_folder
from lmlab.models.gpt.config import GPTConfig
from lmlab.models.gpt.model import GPT

# ---------------------------------------------------------------------------------------------
# Names. HF keys are shown without their "model." prefix; "{i}" is the block index.
#
#   HF Llama                               lmlab GPT                      layout
#   embed_tokens.weight                    tok_emb.weight                 (V, C)
#   layers.{i}.input_layernorm.weight      blocks.{i}.norm1.weight        (C,)
#   layers.{i}.self_attn.q_proj.weight     blocks.{i}.attn.q_proj.weight  (H * D, C)
#   layers.{i}.self_attn.k_proj.weight     blocks.{i}.attn.k_proj.weight  (H_kv * D, C)
#   layers.{i}.self_attn.v_proj.weight     blocks.{i}.attn.v_proj.weight  (H_kv * D, C)
#   layers.{i}.self_attn.o_proj.weight     blocks.{i}.attn.out_proj.weight  (C, H * D)
#   layers.{i}.post_attention_layernorm.weight  blocks.{i}.norm2.weight  (C,)
#   layers.{i}.mlp.gate_proj.weight        blocks.{i}.ff.gate.weight      (F, C)
#   layers.{i}.mlp.up_proj.weight          blocks.{i}.ff.up.weight        (F, C)
#   layers.{i}.mlp.down_proj.weight        blocks.{i}.ff.down.weight      (C, F)
#   norm.weight                            norm_f.weight                  (C,)
#   lm_head.weight (untied only, no prefix) lm_head.weight                (V, C)
# ---------------------------------------------------------------------------------------------
TOP_NAMES = {"embed_tokens.weight": "tok_emb.weight", "norm.weight": "norm_f.weight"}
BLOCK_NAMES = {"input_layernorm": "norm1", "self_attn.q_proj": "attn.q_proj", "self_attn.k_proj": "attn.k_proj",
               "self_attn.v_proj": "attn.v_proj", "self_attn.o_proj": "attn.out_proj",
               "post_attention_layernorm": "norm2", "mlp.gate_proj": "ff.gate", "mlp.up_proj": "ff.up",
               "mlp.down_proj": "ff.down"}
BUFFER = re.compile(r"(layers\.\d+\.self_attn\.)?rotary_emb\.inv_freq")  # RoPE tables of old HF files

# LlamaConfig's defaults, used for fields a config.json leaves out.
HF_DEFAULTS = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                   num_attention_heads=32, num_key_value_heads=None, head_dim=None, hidden_act="silu",
                   max_position_embeddings=2048, rms_norm_eps=1e-6, tie_word_embeddings=False,
                   attention_bias=False, mlp_bias=False, attention_dropout=0.0)
DEFAULT_THETA = 10000.0
SILU = ("silu", "swish")  # two names transformers gives the same function, x * sigmoid(x)


# --------------------------------------------------------------------------------- configs ---

def _rope_theta(hf: dict[str, Any]) -> float:
    """The RoPE base of a config.json, old style (top-level rope_theta, rope_scaling) or new
    (transformers 5: rope_parameters = {"rope_type": "default", "rope_theta": ...}).

    As in transformers, a rope_scaling dict takes precedence, and a rope_theta inside the dict over
    one at the top level. Only plain RoPE is accepted: the scaled variants (linear, dynamic, yarn,
    llama3, ...) change the frequencies in ways lmlab's RotaryEmbedding does not compute.
    """
    rope = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    if any(isinstance(v, dict) for v in rope.values()):
        raise LmlabError(f"rope_parameters per layer type ({', '.join(rope)}) are not supported: "
                         "lmlab uses one RoPE for every layer")
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind != "default":
        field = "rope_scaling" if hf.get("rope_scaling") else "rope_parameters"
        raise LmlabError(f"{field} with rope_type '{kind}' is not supported: lmlab's rotary embedding is "
                         "plain RoPE (rope_type 'default') without scaling")
    return float(rope.get("rope_theta", hf.get("rope_theta") or DEFAULT_THETA))


def llama_config_from_hf(hf: dict[str, Any]) -> GPTConfig:
    """A LlamaConfig dict (config.json) -> GPTConfig; refuses what lmlab's GPT cannot compute exactly."""
    hf = {**HF_DEFAULTS, **hf}
    if hf.get("model_type", "llama") != "llama":
        raise LmlabError(f"config.json has model_type '{hf['model_type']}', not 'llama'")
    if hf["hidden_act"] not in SILU:
        raise LmlabError(f"hidden_act '{hf['hidden_act']}' is not supported: lmlab's SwiGLU gates with "
                         "silu (the Llama activation)")
    for field in ("attention_bias", "mlp_bias"):
        if hf[field]:
            raise LmlabError(f"{field}=True is not supported: lmlab's Llama-style GPT has no biases "
                             "(bias=False)")
    heads = hf["num_attention_heads"]
    natural = hf["hidden_size"] // heads if heads > 0 else None  # heads <= 0 is refused by GPTConfig
    if natural is not None and hf["head_dim"] not in (None, natural):
        raise LmlabError(f"head_dim={hf['head_dim']} is not supported: lmlab's head_dim is always "
                         f"hidden_size / num_attention_heads = {natural}")
    theta = _rope_theta(hf)
    try:
        return GPTConfig(
            vocab_size=hf["vocab_size"], max_seq_len=hf["max_position_embeddings"], d_model=hf["hidden_size"],
            n_heads=heads, n_kv_heads=hf["num_key_value_heads"] or heads, n_layers=hf["num_hidden_layers"],
            d_ff=hf["intermediate_size"], dropout=hf["attention_dropout"], norm_first=True,
            tie_embeddings=hf["tie_word_embeddings"], pos_embedding="rotary", rope_theta=theta,
            activation="swiglu", norm="rmsnorm", bias=False, norm_eps=hf["rms_norm_eps"])
    except ValueError as e:
        raise LmlabError(f"config.json describes an invalid GPT: {e}") from None


def unsupported_by_llama(cfg: GPTConfig) -> list[str]:
    """Why Llama cannot compute this GPT, one "field=value (reason)" per setting; empty if it can."""
    checks = [
        (not cfg.norm_first, "norm_first=False (Post-LN; Llama is Pre-LN)"),
        (cfg.pos_embedding != "rotary", f"pos_embedding='{cfg.pos_embedding}' (Llama uses rotary positions)"),
        (cfg.norm != "rmsnorm", f"norm='{cfg.norm}' (Llama uses RMSNorm)"),
        (cfg.activation != "swiglu", f"activation='{cfg.activation}' (Llama uses SwiGLU)"),
        (cfg.bias, "bias=True (Llama has no biases)"),
        (cfg.attn_window != 0, f"attn_window={cfg.attn_window} (Llama attends to all tokens)"),
    ]
    return [why for bad, why in checks if bad]


# peft's names of Llama's modules, for adapters (lmlab.io.peft_adapters)
PEFT = PeftNames(
    models=(GPT,), unsupported=unsupported_by_llama,
    names={**{rf"blocks\.(?P<i>\d+)\.{re.escape(ours)}": (f"model.layers.{{i}}.{hf}", None)
              for hf, ours in BLOCK_NAMES.items()},
           "tok_emb": ("model.embed_tokens", None), "norm_f": ("model.norm", None), "lm_head": ("lm_head", None)})


def hf_config_from_llama(cfg: GPTConfig, eos_id: int | None = None) -> dict[str, Any]:
    """GPTConfig -> a LlamaConfig dict for config.json; refuses GPT variants Llama cannot express.

    lmlab has one dropout rate; Llama has attention dropout only, so `dropout` becomes attention_dropout
    (dropout is off at inference, so the two models still compute the same logits).
    """
    if problems := unsupported_by_llama(cfg):
        raise LmlabError(f"cannot export as Hugging Face Llama: {'; '.join(problems)}")
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ff_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        # transformers >= 5 reads rope_parameters; the top-level rope_theta is for older readers
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "rope_theta": cfg.rope_theta,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": cfg.dropout,
        "tie_word_embeddings": cfg.tie_embeddings,
        "bos_token_id": eos_id,  # the tokenizer's end-of-text id, if the exporter knows it
        "eos_token_id": eos_id,
    }


# ----------------------------------------------------------------------------- state dicts ---

def _from_hf_state_dict(hf_sd: dict[str, torch.Tensor], tied: bool) -> dict[str, torch.Tensor]:
    """HF Llama tensors -> lmlab GPT tensors; raises on keys it does not know."""
    sd, unknown = {}, []
    for key, t in hf_sd.items():
        name = key.removeprefix("model.")
        if name == "lm_head.weight":
            if not tied:           # a tied head is the embedding matrix; a stray copy is ignored, as in HF
                sd["lm_head.weight"] = t
        elif name in TOP_NAMES:
            sd[TOP_NAMES[name]] = t
        elif BUFFER.fullmatch(name):
            continue
        elif (m := re.fullmatch(r"layers\.(\d+)\.(.+)\.weight", name)) and m[2] in BLOCK_NAMES:
            sd[f"blocks.{m[1]}.{BLOCK_NAMES[m[2]]}.weight"] = t
        else:
            unknown.append(key)
    if unknown:
        raise LmlabError(f"unexpected tensors in the checkpoint: {', '.join(unknown[:5])}"
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    return sd


def _to_hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """lmlab GPT tensors -> HF Llama tensors (with the "model." prefix), contiguous, on the CPU."""
    sd = model.state_dict()
    out, used = {}, set()

    def take(name: str) -> torch.Tensor:
        used.add(name)
        return sd[name]

    for hf_name, name in TOP_NAMES.items():
        out[f"model.{hf_name}"] = take(name)
    for i in range(model.cfg.n_layers):
        for hf_module, module in BLOCK_NAMES.items():
            out[f"model.layers.{i}.{hf_module}.weight"] = take(f"blocks.{i}.{module}.weight")
    head = take("lm_head.weight")
    if not model.cfg.tie_embeddings:  # tied: HF saves embed_tokens once and re-ties on load
        out["lm_head.weight"] = head
    extra = [k for k in sd if k not in used]
    if extra:  # e.g. a model with LoRA adapters injected: merge them first
        raise LmlabError(f"the model has tensors Llama has no place for: {', '.join(extra[:5])}")
    return {k: v.detach().cpu().contiguous() for k, v in out.items()}


# ------------------------------------------------------------------------------ load / save ---

def load_hf_llama(path: str | Path) -> GPT:
    """Build an lmlab GPT from a Hugging Face Llama folder (config.json + model.safetensors or shards).

    The model is built in the default dtype (fp32); fp16/bf16 checkpoints are upcast on load.
    """
    path = Path(path)
    cfg = llama_config_from_hf(read_hf_config(path))
    sd = _from_hf_state_dict(read_weights(path), cfg.tie_embeddings)
    return load_strict(GPT(cfg), sd, path)


def save_hf_llama(model: GPT, path: str | Path, overwrite: bool = False, eos_id: int | None = None) -> None:
    """Write `model` as a Hugging Face Llama folder that `LlamaForCausalLM.from_pretrained` loads.

    A new folder appears in one rename; with overwrite=True config.json and model.safetensors of an
    existing folder are replaced, and other files there (e.g. tokenizer.json) are left alone.
    """
    hf_cfg = hf_config_from_llama(model.cfg, eos_id)  # refuse before anything is written
    write_hf_folder(path, hf_cfg, _to_hf_state_dict(model), overwrite=overwrite)
