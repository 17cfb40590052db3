"""LoRA: low-rank adaptation of a frozen model (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large
Language Models"); rsLoRA's rank-stabilised scaling (Kalajdzievski 2023, "A Rank Stabilization
Scaling Factor for Fine-Tuning with LoRA").

The notes (002, V.1.1): fine-tuning changes a pretrained weight by ΔW, and ΔW has a low "intrinsic
rank", so write it as a product of two thin matrices and train only those:

    h = W x + s · B A x          W (out, in) frozen;  A (r, in), B (out, r) trained;  r ≪ in, out

A starts Kaiming-uniform and B at zero, so B A = 0 and training starts from the base model exactly.
The scale s = α / r (the paper) or α / √r (rsLoRA, which keeps the update's size steady as r grows)
lets one α serve every rank. Dropout acts on the bypass's input only.

- `LoRAEmbedding` does the same for a token embedding (V, C): the update is a low-rank (V, C) matrix, one
  row per token; peft's layout and initialisation (A zero, B normal). "all-linear" leaves embeddings out;
  name one to adapt it (targets=all-linear,tok_emb).
- `LoRALinear` wraps any linear-like module (anything with in_features, out_features and a forward:
  an nn.Linear, or a frozen 4-bit NF4Linear, which makes QLoRA); merge() folds s·BA into the base
  weight (no extra cost at inference), unmerge() takes it out again.
- `inject_lora(model, cfg)` replaces the linear layers named by `cfg.targets` (presets or patterns, the
  vocabulary of lmlab.nn.surgery) and freezes every other parameter, except those of
  `cfg.modules_to_save` (e.g. a new classifier).
- `merge_lora(model)` gives back a plain model; `trainable_report(model)` counts what trains.
Adapters are saved and loaded in peft's layout by lmlab.io.peft_adapters; QLoRA (an NF4 base) is
lmlab.peft.qlora, and lmlab.peft.apply.apply_lora does either for a recipe.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.errors import LmlabError
from lmlab.nn.surgery import LayerWrapper, name_matches, resolve_targets, set_module


@dataclass(frozen=True)
class LoRAConfig:
    r: int = 8                              # rank of the update B·A
    alpha: float = 16.0                     # scale s = alpha / r (or alpha / sqrt(r) with rslora)
    dropout: float = 0.0                    # dropout on the bypass's input (training only)
    targets: tuple[str, ...] = ("qkv",)     # presets (qv, qkv, qkvo, ff, all-linear), module names, globs, re:REGEX
    rslora: bool = False                    # rank-stabilised scale alpha / sqrt(r) (Kalajdzievski 2023)
    modules_to_save: tuple[str, ...] = ()   # modules trained in full beside the adapters (e.g. classifier)

    def __post_init__(self):
        for name in ("targets", "modules_to_save"):  # JSON gives lists; keep the dataclass hashable
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r <= 0:
            raise ValueError(f"r (the rank) must be a positive integer, got {self.r!r}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.targets or any(not isinstance(t, str) or not t for t in self.targets):
            raise ValueError(f"targets must name at least one preset or pattern, got {list(self.targets)}")
        if any(not isinstance(t, str) or not t for t in self.modules_to_save):
            raise ValueError(f"modules_to_save must be module names or patterns, got {list(self.modules_to_save)}")
        for t in (*self.targets, *self.modules_to_save):
            if t.startswith("re:"):
                try:
                    re.compile(t[3:])
                except re.error as e:
                    raise ValueError(f"'{t}' is not a valid regular expression ({e})") from None

    def saving(self, *names: str) -> LoRAConfig:
        """This config with `names` also in modules_to_save: a task's new head trains in full (it has no
        pretrained weights to adapt)."""
        extra = tuple(n for n in names if n not in self.modules_to_save)
        return replace(self, modules_to_save=(*self.modules_to_save, *extra)) if extra else self

    @property
    def scaling(self) -> float:
        return lora_scaling(self.alpha, self.r, self.rslora)


def lora_scaling(alpha: float, r: int, rslora: bool = False) -> float:
    """s = α / r (Hu et al.), or α / √r (rsLoRA)."""
    return alpha / math.sqrt(r) if rslora else alpha / r


class LoRALayer(LayerWrapper):
    """What LoRALinear and LoRAEmbedding share: a frozen `base`, A and B, the scale, merge and unmerge.
    Each kind gives `delta_weight()`, the update s·BA in its base weight's layout (weight_shape)."""
    lora_A: nn.Parameter
    lora_B: nn.Parameter
    weight_shape: tuple[int, int]  # the base weight's shape, which delta_weight() has too

    def _init_lora(self, base: nn.Module, r: int, alpha: float, rslora: bool) -> tuple:
        """Keep the frozen base and the scale; -> (device, dtype) for A and B, those of the base's weights."""
        self.base = base
        self.r, self.alpha, self.rslora = r, alpha, rslora
        self.scaling = lora_scaling(alpha, r, rslora)
        self.merged = False
        for p in self.base.parameters():
            p.requires_grad_(False)
        ref = next(iter([*base.parameters(), *base.buffers()]), None)
        device = ref.device if ref is not None else None
        dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
        return device, dtype

    def _base_weight(self) -> torch.Tensor:
        w = getattr(self.base, "weight", None)
        shape = self.weight_shape
        if not isinstance(w, torch.Tensor) or not w.is_floating_point() or w.shape != shape:
            raise LmlabError(f"cannot merge LoRA into a {type(self.base).__name__}: it has no {tuple(shape)} float "
                             "weight (a quantised base is dequantised first, or kept unmerged)")
        return w

    @torch.no_grad()
    def merge(self) -> None:
        """W ← W + s·BA: one matrix again, the bypass switched off."""
        if not self.merged:
            w = self._base_weight()
            w += self.delta_weight().to(w.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """W ← W − s·BA. s·BA is computed the same way both times, so W comes back to within one float rounding
        of each step: |ΔW_back| ≤ 2⁻²³·max(|W|, |W + s·BA|) per element in fp32 (most elements bit for bit)."""
        if self.merged:
            w = self._base_weight()
            w -= self.delta_weight().to(w.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:.4g}{', merged' if self.merged else ''}"


class LoRALinear(LoRALayer):
    """base(x) + s · B(A(dropout(x))) around a frozen linear-like `base`; A Kaiming-uniform, B zero."""

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float = 0.0, rslora: bool = False):
        super().__init__()
        if not all(hasattr(base, a) for a in ("in_features", "out_features")):
            raise LmlabError(f"LoRA needs a linear-like layer (in_features, out_features); got {type(base).__name__}")
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight_shape = (self.out_features, self.in_features)
        device, dtype = self._init_lora(base, r, alpha, rslora)
        self.lora_A = nn.Parameter(torch.empty(r, self.in_features, device=device, dtype=dtype))   # (r, in)
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, device=device, dtype=dtype))  # (out, r)
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear (and peft) initialise A
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        y = self.base(x)
        if self.merged:
            return y
        a = F.linear(self.dropout(x).to(self.lora_A.dtype), self.lora_A)   # (..., r)
        return y + (F.linear(a, self.lora_B) * self.scaling).to(y.dtype)    # (..., out)

    def delta_weight(self) -> torch.Tensor:
        """s · B A, the update in nn.Linear's (out, in) layout."""
        return (self.lora_B @ self.lora_A) * self.scaling


class LoRAEmbedding(LoRALayer):
    """base(ids) + s · Aᵀ[ids] Bᵀ around a frozen nn.Embedding (V, C): a row of the update s·(BA)ᵀ per token.

    A (r, V) starts at zero and B (C, r) normal: the reverse of LoRALinear, as peft has it (a lookup has no
    input to project, so the side that is looked up is the one that starts at zero). No dropout: peft applies
    none to embedding adapters either. In peft's files A and B are `lora_embedding_A` / `lora_embedding_B`."""

    def __init__(self, base: nn.Embedding, r: int, alpha: float, rslora: bool = False):
        super().__init__()
        if not isinstance(base, nn.Embedding):
            raise LmlabError(f"LoRAEmbedding wraps an nn.Embedding; got {type(base).__name__}")
        self.num_embeddings, self.embedding_dim = base.num_embeddings, base.embedding_dim
        self.weight_shape = (self.num_embeddings, self.embedding_dim)
        device, dtype = self._init_lora(base, r, alpha, rslora)
        self.lora_A = nn.Parameter(torch.zeros(r, self.num_embeddings, device=device, dtype=dtype))   # (r, V)
        self.lora_B = nn.Parameter(torch.randn(self.embedding_dim, r, device=device, dtype=dtype))    # (C, r)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (...) -> (..., C)
        y = self.base(ids)
        if self.merged:
            return y
        a = F.embedding(ids, self.lora_A.t(), padding_idx=self.base.padding_idx)  # (..., r): column ids of A
        return y + (F.linear(a, self.lora_B) * self.scaling).to(y.dtype)       # (..., C)

    def delta_weight(self) -> torch.Tensor:
        """s · (B A)ᵀ, the update in nn.Embedding's (V, C) layout."""
        return (self.lora_B @ self.lora_A).t() * self.scaling


# ---- choosing modules by name (targets: lmlab.nn.surgery) -------------------------------------------
def resolve_modules(model: nn.Module, patterns: tuple[str, ...]) -> list[str]:
    """Modules (any kind) named by patterns, for modules_to_save; an entry matching none is an error."""
    names = [n for n, _ in model.named_modules() if n]
    out: list[str] = []
    for p in patterns:
        hit = [n for n in names if name_matches(n, p) and not any(n.startswith(o + ".") for o in out)]
        if not hit:
            raise LmlabError(f"modules_to_save entry '{p}' matches no module of this {type(model).__name__}")
        out += [n for n in hit if n not in out]
    return out


def lora_layers(model: nn.Module) -> dict[str, LoRALayer]:
    """Every LoRA wrapper (linear and embedding) by module name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALayer)}


def inject_lora(model: nn.Module, cfg: LoRAConfig) -> list[str]:
    """Wrap the targeted layers in LoRALinear (or LoRAEmbedding) and freeze everything else (but
    cfg.modules_to_save); returns the wrapped names. The model is changed in place."""
    if lora_layers(model):
        raise LmlabError("the model already has LoRA adapters; merge them (merge_lora) before adding new ones")
    names = resolve_targets(model, cfg.targets, "LoRA target")
    save = resolve_modules(model, cfg.modules_to_save)
    shared = _shared_parameters(model)
    for n in names:
        w = getattr(model.get_submodule(n), "weight", None)
        if isinstance(w, torch.Tensor) and id(w) in shared:
            raise LmlabError(f"'{n}' shares its weight with {shared[id(w)]} (tied embeddings): LoRA on it would "
                             "change the embeddings too when merged; leave it out of the targets")
    for p in model.parameters():
        p.requires_grad_(False)
    for n in names:
        base = model.get_submodule(n)
        set_module(model, n, LoRAEmbedding(base, cfg.r, cfg.alpha, cfg.rslora) if isinstance(base, nn.Embedding)
                    else LoRALinear(base, cfg.r, cfg.alpha, cfg.dropout, cfg.rslora))
    for n in save:
        if n in names:
            raise LmlabError(f"'{n}' is both a LoRA target and in modules_to_save; choose one")
        for p in model.get_submodule(n).parameters():
            p.requires_grad_(True)
    return names


def _shared_parameters(model: nn.Module) -> dict[int, str]:
    """id(parameter) -> the names it goes by, for parameters reachable under more than one name."""
    seen: dict[int, list[str]] = {}
    for n, p in model.named_parameters(remove_duplicate=False):
        seen.setdefault(id(p), []).append(n)
    return {k: " and ".join(v) for k, v in seen.items() if len(v) > 1}


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and put the base layer back: a plain model, every
    parameter trainable again. The model is changed in place and returned."""
    for name, layer in lora_layers(model).items():
        layer.merge()
        set_module(model, name, layer.base)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def set_merged(model: nn.Module, merged: bool) -> None:
    """Merge (True) or unmerge (False) every adapter in place, keeping the LoRA layers."""
    for layer in lora_layers(model).values():
        layer.merge() if merged else layer.unmerge()


@dataclass(frozen=True)
class TrainableReport:
    trainable: int
    total: int
    lora: int           # of which in LoRA's A and B

    @property
    def fraction(self) -> float:
        return self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (f"trainable params: {self.trainable:,} ({self.lora:,} in LoRA adapters) || all params: "
                f"{self.total:,} || trainable: {100 * self.fraction:.4f} %")


def trainable_report(model: nn.Module) -> TrainableReport:
    """What trains: unique parameters (a tied matrix or a shared A counted once), adapters included in the total."""
    params = dict((id(p), (n, p)) for n, p in model.named_parameters())
    trainable = sum(p.numel() for _, p in params.values() if p.requires_grad)
    lora = sum(p.numel() for n, p in params.values() if n.endswith(("lora_A", "lora_B")))
    return TrainableReport(trainable, sum(p.numel() for _, p in params.values()), lora)


# peft's (and common) names for the spec's keys, for "did you mean"
HINTS = {"rank": "r", "lora_r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout", "target_modules": "targets",
         "target": "targets", "use_rslora": "rslora", "save": "modules_to_save"}


def parse_lora_spec(spec: str) -> LoRAConfig:
    """`r=8,alpha=16,targets=qkv` (the CLI's --lora) -> LoRAConfig. A list key (targets, modules_to_save) takes
    every following item without '=': `targets=q_proj,v_proj,r=4`."""
    import dataclasses
    import typing

    from lmlab.config import parse_value

    hints = typing.get_type_hints(LoRAConfig)
    fields = [f.name for f in dataclasses.fields(LoRAConfig)]
    lists = ("targets", "modules_to_save")
    values: dict[str, object] = {}
    key = None
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        k, eq, v = item.partition("=")
        if not eq:
            if key not in lists:
                raise LmlabError(f"--lora: '{item}' is not key=value; write e.g. r=8,alpha=16,targets=qkv "
                                 f"(keys: {', '.join(fields)})")
            values[key] = (*values[key], item)
            continue
        key = k.strip().replace("-", "_")
        if key not in fields:
            import difflib
            close = [HINTS[key]] if key in HINTS else difflib.get_close_matches(key, fields, n=1)
            raise LmlabError(f"--lora: unknown key '{key}'" + (f" (did you mean {close[0]}?)" if close else "")
                             + f"; keys: {', '.join(fields)}")
        if key in values:
            raise LmlabError(f"--lora: '{key}' is given twice")
        values[key] = (v.strip(),) if key in lists else parse_value(v.strip(), hints[key], f"--lora {key}")
    try:
        return LoRAConfig(**values)
    except (TypeError, ValueError) as e:
        raise LmlabError(f"--lora: {e}") from None
