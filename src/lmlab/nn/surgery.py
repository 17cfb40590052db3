"""Model surgery: choose layers of a built model by name and swap them in place (LoRA, NF4 and peft's files).

Variants replace modules in a built model (nn.Linear -> LoRALinear, NF4Linear) instead of copying a
model family, so they all need the same two things: a vocabulary to name the layers (`targets`) and a
way to put a new module where an old one was (`set_module`). The vocabulary, one entry per target:
- a preset: qv, qkv, qkvo, ff (module names matched as dotted suffixes), all-linear (every linear
  layer but the output layer, as peft means it);
- a module name or a dotted suffix of one ("q_proj" matches "blocks.3.attn.q_proj");
- a glob (* ? [) matched against the whole dotted name, or re:REGEX (a full match).
Presets pick linear layers only; an embedding is chosen when a name or pattern names it (tok_emb).
A `LayerWrapper` (LoRA's layers) stands in for the layer it wraps: neither it nor its base is chosen.
"""

from __future__ import annotations

import fnmatch
import re

from torch import nn

from lmlab.errors import LmlabError

# Target presets: names matched as suffixes of module names ("q_proj" matches "blocks.3.attn.q_proj").
PRESETS: dict[str, tuple[str, ...]] = {
    "qv": ("q_proj", "v_proj"),                                   # the LoRA paper's choice (W_q, W_v)
    "qkv": ("q_proj", "k_proj", "v_proj"),                        # attention queries, keys, values
    "qkvo": ("q_proj", "k_proj", "v_proj", "out_proj"),           # ... and the attention output
    "ff": ("ff.up", "ff.gate", "ff.down"),                        # the feed-forward (SwiGLU's gate too)
    "all-linear": (),                                             # every linear layer but the output layer
}
# Output layers that "all-linear" leaves out, as peft does: heads are trained whole (modules_to_save) or not at all.
OUTPUT_LAYERS = re.compile(r"(.*\.)?(lm_head|decoder|classifier|nsp)")


class LayerWrapper(nn.Module):
    """A layer wrapped around another, held as `self.base` (LoRA's adapters around a frozen layer).
    Target selection treats the pair as taken: it chooses neither the wrapper nor its base again."""
    base: nn.Module


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` where the submodule called `name` ("blocks.3.attn.q_proj") is, in place."""
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def name_matches(name: str, pattern: str) -> bool:
    """re:REGEX: full match; a glob (* ? [): full match on the dotted name; else the name or a dotted suffix."""
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], name) is not None
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or name.endswith("." + pattern)


def _is_linear(m: nn.Module) -> bool:
    """nn.Linear (and subclasses), or any other linear-like layer (e.g. NF4Linear), but not a wrapper."""
    if isinstance(m, LayerWrapper):
        return False
    return isinstance(m, nn.Linear) or all(hasattr(m, a) for a in ("in_features", "out_features"))


def targetable_names(model: nn.Module) -> list[str]:
    """Names of the model's linear and embedding layers that targets can choose (outside existing wrappers)."""
    inside = {f"{n}.base" for n, m in model.named_modules() if isinstance(m, LayerWrapper)}
    return [n for n, m in model.named_modules()
            if n and (_is_linear(m) or isinstance(m, nn.Embedding)) and n not in inside]


def resolve_targets(model: nn.Module, targets: tuple[str, ...], what: str = "target") -> list[str]:
    """The layers named by presets and patterns, in model order; an entry matching none is an error that
    starts with `what` ("LoRA target") and lists the presets and the model's layer names."""
    names = targetable_names(model)
    linear = [n for n in names if _is_linear(model.get_submodule(n))]
    chosen: set[str] = set()
    for t in targets:
        if t == "all-linear":
            hit = [n for n in linear if not OUTPUT_LAYERS.fullmatch(n)]
        elif t in PRESETS:
            hit = [n for n in linear if any(name_matches(n, p) for p in PRESETS[t])]
        else:
            hit = [n for n in names if name_matches(n, t)]
        if not hit:
            shown = ", ".join(linear[:6]) + (", …" if len(linear) > 6 else "")
            embeddings = [n for n in names if n not in linear]
            raise LmlabError(f"{what} '{t}' matches no linear or embedding layer of this "
                             f"{type(model).__name__}; presets: {', '.join(PRESETS)}; its linear layers are named "
                             f"like: {shown}" + (f"; its embeddings: {', '.join(embeddings)}" if embeddings else ""))
        chosen.update(hit)
    return [n for n in names if n in chosen]
