"""LoRA adapters in peft's layout: `save_adapter(model, dir)` and `load_adapter(model, dir)`.

An adapter folder holds `adapter_config.json` (peft's LoraConfig fields) and
`adapter_model.safetensors`, whose keys name the Hugging Face module the adapter sits on:

    base_model.model.<HF module path>.lora_A.weight    (r, in)
    base_model.model.<HF module path>.lora_B.weight    (out, r)
    base_model.model.<HF module path>.lora_embedding_A (r, V)    an embedding's adapter (no ".weight")
    base_model.model.<HF module path>.lora_embedding_B (C, r)
    base_model.model.<HF module path>.weight / .bias   a module trained in full (modules_to_save)

so an adapter trained here on a GPT-2, Llama or BERT loads with `PeftModel.from_pretrained(<the HF
model>, dir)` on the same base weights and computes the same function, and a peft adapter loads here.
lmlab names become Hugging Face names through the table beside each converter (the `PEFT` of
lmlab.io.hf_gpt2 / hf_llama / hf_bert), looked up by model_type.

GPT-2 fuses the query, key and value projections into one Conv1D `c_attn` (out = 3C rows [q | k | v]);
lmlab keeps q_proj, k_proj, v_proj apart. Both directions are exact:
- peft → lmlab: c_attn's adapter is one A (r, C) and one B (3C, r). q, k and v each get B's own C rows
  and *share* the one A (the same Parameter), so the model is peft's parametrisation, also in training.
- lmlab → peft: three adapters with shared A go back as they came. Three independent adapters
  (lmlab's own injection) go as one adapter of rank 3r: A = [A_q; A_k; A_v] (3r, C) and B block-diagonal
  (3C, 3r), since [B_q A_q; B_k A_k; B_v A_v] = blockdiag(B_q, B_k, B_v) · [A_q; A_k; A_v]; the
  rank and α of such modules go to rank_pattern / alpha_pattern so that peft's scale is unchanged
  (α' = s·3r, or s·√(3r) with rsLoRA). A missing part (e.g. q and v only) gets zero rows in B.
  In training, peft then updates the zero blocks too: the exported adapter is exact, not a constraint.
Dropout on c_attn's input is one mask in peft and three in lmlab; outputs with dropout off are equal.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from lmlab.config import load_json
from lmlab.errors import LmlabError
from lmlab.io import hf_bert, hf_gpt2, hf_llama
from lmlab.io.atomic import write_json_and_tensors
from lmlab.models.bert.model import BertForSequenceClassification, BertForTokenClassification
from lmlab.models.gpt.model import GPT
from lmlab.nn.surgery import set_module
from lmlab.peft.lora import LoRAConfig, LoRAEmbedding, LoRALayer, LoRALinear, lora_layers

ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
PREFIX = "base_model.model."
LORA_KEY = re.compile(r"(.+)\.lora_([AB])\.weight")
EMBEDDING_KEY = re.compile(r"(.+)\.lora_embedding_([AB])")


# ---- lmlab module names <-> Hugging Face module names ------------------------------------------------
# model_type -> how peft names that architecture's modules. A model takes the first that computes it: a GPT is
# named as GPT-2 where GPT-2 can compute it, else as Llama.
LAYOUTS = {"gpt2": hf_gpt2.PEFT, "llama": hf_llama.PEFT, "bert": hf_bert.PEFT}


def hf_family(model: nn.Module) -> str:
    """The Hugging Face architecture (model_type) whose module names this model's adapters use."""
    refused = []
    for model_type, layout in LAYOUTS.items():
        if isinstance(model, layout.models):
            if not (why := layout.unsupported(model.cfg)):
                return model_type
            refused.append(f"not {model_type}: {'; '.join(why)}")
    if refused:
        raise LmlabError(f"no Hugging Face architecture computes this {type(model).__name__} "
                         f"({'. '.join(refused)}), so its adapters have no peft names")
    names = list(LAYOUTS)
    raise LmlabError(f"adapters in peft's layout are for models that Hugging Face {', '.join(names[:-1])} or "
                     f"{names[-1]} computes, not a {type(model).__name__}")


def hf_name(family: str, name: str) -> tuple[str, int | None]:
    """lmlab module name -> (HF module name, part): part is 0/1/2 for q/k/v inside GPT-2's fused c_attn."""
    if (found := LAYOUTS[family].hf_name(name)) is not None:
        return found
    raise LmlabError(f"lmlab module '{name}' has no place in Hugging Face {family}; its adapter cannot be "
                     "written in peft's layout")


def _conv1d(family: str, hf: str) -> bool:
    """GPT-2's Conv1D layers store weights (in, out): whole-module tensors are transposed on the way."""
    return any(hf.endswith("." + c) for c in LAYOUTS[family].fan_in_fan_out)


def _hf_to_lmlab(model: nn.Module, family: str) -> dict[str, list[tuple[str, int | None]]]:
    """HF module name -> the lmlab modules (and q/k/v parts) it covers; also under peft-tolerated prefixes."""
    out: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for name, _ in model.named_modules():
        if not name or name.endswith(".base"):
            continue
        try:
            hf, part = hf_name(family, name)
        except LmlabError:
            continue
        out[hf].append((name, part))
    p = LAYOUTS[family].bare_prefix  # an adapter made on GPT2Model / BertModel names the encoder without it
    for hf in list(out):
        if p and hf.startswith(p) and hf[len(p):] not in out:
            out[hf[len(p):]] = out[hf]
    return out


# ---- save -------------------------------------------------------------------------------------------
def _task_type(model: nn.Module) -> str | None:
    return {GPT: "CAUSAL_LM", BertForSequenceClassification: "SEQ_CLS",
            BertForTokenClassification: "TOKEN_CLS"}.get(type(model))


def saved_modules(model: nn.Module) -> list[str]:
    """Modules trained in full beside the adapters: owners of trainable parameters outside LoRA layers."""
    lora = set(lora_layers(model))
    out: list[str] = []
    for n, p in model.named_parameters():
        owner = n.rpartition(".")[0]
        if p.requires_grad and not any(owner == x or owner.startswith(x + ".") for x in lora) and owner not in out:
            out.append(owner)
    return out


def _pattern(hf: str) -> str:
    return re.escape(hf)  # a regex that matches only this module; peft reads rank/alpha_pattern keys as regexes


def adapter_state(model: nn.Module, base_model_name_or_path: str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """(adapter_config.json dict, adapter_model.safetensors tensors) of the model's LoRA layers in peft's layout."""
    layers = lora_layers(model)
    if not layers:
        raise LmlabError("the model has no LoRA adapters to save (inject_lora first)")
    family = hf_family(model)
    groups: dict[str, dict[int | None, LoRALayer]] = defaultdict(dict)
    for name, layer in layers.items():
        hf, part = hf_name(family, name)
        groups[hf][part] = layer
    if len({layer.rslora for layer in layers.values()}) > 1:
        raise LmlabError("the adapters mix rsLoRA and plain LoRA scaling; peft has one use_rslora per adapter")
    rslora = next(iter(layers.values())).rslora
    first = next(iter(layers.values()))
    r0, alpha0 = first.r, first.alpha
    tensors: dict[str, torch.Tensor] = {}
    rank_pattern: dict[str, int] = {}
    alpha_pattern: dict[str, float] = {}
    for hf, parts in groups.items():
        if None in parts:
            layer = parts[None]
            A, B, r, alpha = layer.lora_A, layer.lora_B, layer.r, layer.alpha
        else:
            A, B, r, alpha = _fuse_qkv(hf, parts, rslora)
        if r != r0:
            rank_pattern[_pattern(hf)] = r
        if alpha != alpha0:
            alpha_pattern[_pattern(hf)] = alpha
        kind = "embedding_{}" if isinstance(parts.get(None), LoRAEmbedding) else "{}.weight"
        tensors[f"{PREFIX}{hf}.lora_{kind.format('A')}"] = A
        tensors[f"{PREFIX}{hf}.lora_{kind.format('B')}"] = B
    to_save = []
    for name in saved_modules(model):
        hf, part = hf_name(family, name)
        if part is not None:
            raise LmlabError(f"'{name}' is one third of GPT-2's fused c_attn; peft can save only the whole module")
        to_save.append(hf)
        for pname, p in model.get_submodule(name).named_parameters(recurse=False):
            tensors[f"{PREFIX}{hf}.{pname}"] = p.t() if _conv1d(family, hf) and p.dim() == 2 else p
    dropouts = {layer.dropout.p if isinstance(getattr(layer, "dropout", None), nn.Dropout) else 0.0
                for layer in layers.values()}
    config = {
        "peft_type": "LORA", "task_type": _task_type(model), "base_model_name_or_path": base_model_name_or_path,
        "r": r0, "lora_alpha": alpha0, "lora_dropout": max(dropouts), "use_rslora": rslora,
        "target_modules": sorted(groups), "modules_to_save": to_save or None,
        "rank_pattern": rank_pattern, "alpha_pattern": alpha_pattern,
        "fan_in_fan_out": bool(LAYOUTS[family].fan_in_fan_out), "bias": "none", "use_dora": False, "init_lora_weights": True,
        "inference_mode": True,
    }
    return config, {k: v.detach().float().cpu().contiguous() for k, v in tensors.items()}


def _fuse_qkv(hf: str, parts: dict[int | None, LoRALinear], rslora: bool):
    """q/k/v adapters -> one adapter on c_attn: (A, B, rank, alpha); see the module doc."""
    layers = [parts.get(i) for i in range(3)]
    present = [x for x in layers if x is not None]
    s = present[0].scaling
    if any(not math.isclose(x.scaling, s, rel_tol=1e-12) for x in present):
        raise LmlabError(f"the q/k/v adapters under {hf} have different scales; peft's fused c_attn has one")
    if len(present) == 3 and all(x.lora_A is present[0].lora_A for x in present):  # shared A: as peft made it
        return present[0].lora_A, torch.cat([x.lora_B for x in present]), present[0].r, present[0].alpha
    C, r_total = present[0].in_features, sum(x.r for x in present)
    outs = [x.out_features for x in present]
    if len(set(outs)) > 1:
        raise LmlabError(f"q, k and v under {hf} differ in width; GPT-2's c_attn needs equal parts")
    out = outs[0]
    A = torch.zeros(r_total, C, dtype=present[0].lora_A.dtype, device=present[0].lora_A.device)
    B = torch.zeros(3 * out, r_total, dtype=A.dtype, device=A.device)
    col = 0
    for i, layer in enumerate(layers):
        if layer is None:
            continue
        A[col:col + layer.r] = layer.lora_A.detach()
        B[i * out:(i + 1) * out, col:col + layer.r] = layer.lora_B.detach()
        col += layer.r
    alpha = s * (math.sqrt(r_total) if rslora else r_total)
    return A, B, r_total, alpha


def save_adapter(model: nn.Module, path: str | Path, base_model_name_or_path: str | None = None,
                 overwrite: bool = False) -> Path:
    """Write the model's adapters as a peft adapter folder (adapter_config.json + adapter_model.safetensors).

    A new folder appears in one rename; with overwrite=True the two files are replaced one rename each."""
    config, tensors = adapter_state(model, base_model_name_or_path)
    return write_json_and_tensors(path, ADAPTER_CONFIG, config, ADAPTER_WEIGHTS, tensors, overwrite)


# ---- load -------------------------------------------------------------------------------------------
UNSUPPORTED = {"use_dora": "DoRA", "lora_bias": "LoRA bias terms", "layer_replication": "layer replication",
               "trainable_token_indices": "trainable tokens", "target_parameters": "LoRA on parameters",
               "use_qalora": "QA-LoRA", "alora_invocation_tokens": "aLoRA"}


def read_adapter_config(path: Path) -> dict[str, Any]:
    if not (path / ADAPTER_CONFIG).is_file():
        raise LmlabError(f"{path} has no {ADAPTER_CONFIG}: is it a peft adapter folder?")
    cfg = load_json(path / ADAPTER_CONFIG)
    if cfg.get("peft_type") != "LORA":
        raise LmlabError(f"{path / ADAPTER_CONFIG} is not a LoRA adapter (peft_type {cfg.get('peft_type')!r}); "
                         "lmlab loads LoRA only")
    for key, what in UNSUPPORTED.items():
        if cfg.get(key):
            raise LmlabError(f"{path} uses {what} ({key}={cfg[key]!r}), which lmlab's LoRA does not implement")
    if cfg.get("bias", "none") != "none":
        raise LmlabError(f"{path} trains biases (bias={cfg['bias']!r}); lmlab loads adapters with bias='none' only")
    return cfg


def _pattern_value(patterns: dict[str, Any], hf: str, default: Any) -> Any:
    """peft's rule: the first key k with re.match(rf"(.*\\.)?({k})$", name) wins."""
    for key, value in patterns.items():
        if re.match(rf"(.*\.)?({key})$", hf):
            return value
    return default


def load_adapter(model: nn.Module, path: str | Path) -> LoRAConfig:
    """Add the peft adapter in folder `path` to a plain lmlab model (in place): LoRA layers with its A and B,
    its modules_to_save loaded and trainable, everything else frozen. Returns a LoRAConfig describing it
    (targets and modules_to_save as lmlab module names)."""
    path = Path(path)
    cfg = read_adapter_config(path)
    if lora_layers(model):
        raise LmlabError("the model already has LoRA adapters; merge them (merge_lora) before loading another")
    try:
        tensors = load_file(str(path / ADAPTER_WEIGHTS))
    except (SafetensorError, OSError) as e:
        raise LmlabError(f"cannot read {path / ADAPTER_WEIGHTS}: {e}") from None
    family = hf_family(model)
    where = _hf_to_lmlab(model, family)
    lora: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    embedding: set[str] = set()                   # HF modules whose adapter is lora_embedding_A / _B
    whole: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    for key, t in tensors.items():
        if not key.startswith(PREFIX):
            raise LmlabError(f"{path / ADAPTER_WEIGHTS}: key '{key}' does not start with '{PREFIX}'")
        key = key[len(PREFIX):]
        if m := LORA_KEY.fullmatch(key) or EMBEDDING_KEY.fullmatch(key):
            lora[m[1]][m[2]] = t
            if "lora_embedding_" in key:
                embedding.add(m[1])
        elif "lora_" in key:
            raise LmlabError(f"{path}: '{key}' is a kind of LoRA tensor lmlab does not load (linear and embedding "
                             "layers only)")
        else:
            module, _, pname = key.rpartition(".")
            whole[module][pname] = t
    unknown = [hf for hf in [*lora, *whole] if hf not in where]
    if unknown:
        raise LmlabError(f"{path} adapts modules this {type(model).__name__} ({family}) does not have: "
                         f"{', '.join(unknown[:4])}; was it made for another architecture?")
    rslora, dropout = bool(cfg.get("use_rslora", False)), float(cfg.get("lora_dropout", 0.0) or 0.0)
    r0, alpha0 = cfg.get("r", 8), cfg.get("lora_alpha", 8)
    for p in model.parameters():
        p.requires_grad_(False)
    targets: list[str] = []
    for hf, ab in lora.items():
        if set(ab) != {"A", "B"}:
            raise LmlabError(f"{path}: {hf} has lora_{'A' if 'A' in ab else 'B'} without its partner")
        A, B = ab["A"], ab["B"]
        r = A.shape[0]
        if A.dim() != 2 or B.dim() != 2 or B.shape[1] != r:
            raise LmlabError(f"{path}: {hf} has A {tuple(A.shape)} and B {tuple(B.shape)}, not (r, in) and (out, r)")
        if (hf in embedding) != isinstance(model.get_submodule(where[hf][0][0]), nn.Embedding):
            raise LmlabError(f"{path}: {hf} has {'an embedding' if hf in embedding else 'a linear'} adapter, but "
                             f"lmlab's {where[hf][0][0]} is {'not ' if hf in embedding else ''}an embedding")
        if r != _pattern_value(cfg.get("rank_pattern") or {}, hf, r0):
            raise LmlabError(f"{path}: {hf} has rank {r}, but adapter_config.json says "
                             f"{_pattern_value(cfg.get('rank_pattern') or {}, hf, r0)}")
        alpha = float(_pattern_value(cfg.get("alpha_pattern") or {}, hf, alpha0))
        parts = sorted(where[hf], key=lambda x: -1 if x[1] is None else x[1])
        Bs = B.chunk(len(parts), dim=0) if len(parts) > 1 else (B,)
        shared = None
        for (name, _), B_part in zip(parts, Bs):
            base = model.get_submodule(name)
            emb = isinstance(base, nn.Embedding)
            shape = (base.num_embeddings, base.embedding_dim) if emb else (base.in_features, base.out_features)
            if (A.shape[1], B_part.shape[0]) != shape:
                raise LmlabError(f"{path}: {hf} has A {tuple(A.shape)}, B {tuple(B.shape)} but {name} maps "
                                 f"{shape[0]} -> {shape[1]} features")
            layer = LoRAEmbedding(base, r, alpha, rslora) if emb else LoRALinear(base, r, alpha, dropout, rslora)
            with torch.no_grad():
                layer.lora_A.copy_(A)
                layer.lora_B.copy_(B_part)
            if shared is not None:      # q, k, v of one fused c_attn share peft's single A
                layer.lora_A = shared
            shared = layer.lora_A if len(parts) > 1 else None
            set_module(model, name, layer)
            targets.append(name)
    saved: list[str] = []
    for hf, params in whole.items():
        (name, part), = where[hf][:1]
        if part is not None:
            raise LmlabError(f"{path}: {hf} is saved whole, but lmlab splits it into q/k/v; not supported")
        module = model.get_submodule(name)
        own = dict(module.named_parameters(recurse=False))
        for pname, t in params.items():
            if pname not in own:
                raise LmlabError(f"{path}: {hf}.{pname} has no counterpart in lmlab's {name}")
            t = t.t() if _conv1d(family, hf) and t.dim() == 2 else t
            if t.shape != own[pname].shape:
                raise LmlabError(f"{path}: {hf}.{pname} is {tuple(t.shape)}, {name}.{pname} is "
                                 f"{tuple(own[pname].shape)}")
            with torch.no_grad():
                own[pname].copy_(t)
            own[pname].requires_grad_(True)
        saved.append(name)
    return LoRAConfig(r=int(r0), alpha=float(alpha0), dropout=dropout, targets=tuple(targets) or ("all-linear",),
                      rslora=rslora, modules_to_save=tuple(saved))


# ---- a run's adapter folder -------------------------------------------------------------------------
RUN_ADAPTER_DIR = "adapter"


def run_adapter_writer(run_dir: str | Path, model: nn.Module, base_model_name_or_path: str | None = None,
                       quiet: bool = True):
    """An on_eval callback that keeps RUN/adapter/ (peft's layout) in step with the checkpoints, or None
    (with a note) when the model has no Hugging Face twin to name its modules after."""
    try:
        hf_family(model)
    except LmlabError as e:
        if not quiet:
            print(f"note: no peft adapter folder for this run ({e}); the adapters are in model.safetensors")
        return None

    def on_eval(step: int, m: nn.Module) -> None:
        save_adapter(m, Path(run_dir) / RUN_ADAPTER_DIR, base_model_name_or_path, overwrite=True)
    return on_eval
