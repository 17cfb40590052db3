"""The registry itself: what a Family is, and how families are registered and found.

A `Family` names what a family is made of — its config classes, model builder, presets, task heads,
Hugging Face converter, tokenizer files and the commands that take its runs — as "module:attr"
strings, imported only when used. So building the command line imports no torch, and `models/`
never imports up. The families are registered in the modules beside this one (see the package's __init__).

A string may name a module above `runs/` (a recipe behind `train`, a tool behind `memory` or
`token_vectors`, a recipe's defaults): import-linter cannot see through it, so such a field is resolved
only by callers in those layers (the CLI, a recipe, a tool), never from `runs/` or below. The fields that
may point up are listed in UPWARD; tests/runs/test_families.py checks every string resolves and that no
module of `runs/` or below resolves an UPWARD field.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lmlab.errors import LmlabError


def resolve(ref: str) -> Any:
    """The object a "package.module:attr.attr" string names (imported on first use)."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


REF = {"ref": True}  # field metadata: the field holds "module:attr" strings (see references())
UPWARD = ("train", "memory", "token_vectors", "defaults")  # fields that may name lmlab.recipes or lmlab.tools


def references(entry: Any) -> dict[str, str]:
    """Every "module:attr" string a registry entry names, by where it stands: "model", "configs[train]",
    "hf[gpt2].load" (the fields marked REF, into mappings and the Converters they hold)."""
    out: dict[str, str] = {}
    for f in fields(entry):
        value = getattr(entry, f.name)
        if not f.metadata.get("ref") or value is None:
            continue
        items = value.items() if isinstance(value, Mapping) else [(None, value)]
        for key, v in items:
            where = f.name if key is None else f"{f.name}[{key}]"
            if isinstance(v, str):
                out[where] = v
            else:
                out |= {f"{where}.{name}": ref for name, ref in references(v).items()}
    return out


@dataclass(frozen=True)
class Converter:
    """A family's way to and from one Hugging Face model_type: its converter's functions in lmlab.io, by name."""
    title: str                              # the architecture in words, for messages ("GPT-2")
    load: str = field(metadata=REF)         # (folder, [head=]) -> model: what `lmlab hf import` builds
    save: str = field(metadata=REF)         # (model, folder, overwrite=, [eos_id=, labels=]) -> None
    save_options: tuple[str, ...] = ()      # which of eos_id, labels the save function takes
    head: str | None = None                 # the head= load builds for `lmlab hf import` (BERT: "pretraining")
    unsupported: str | None = field(default=None, metadata=REF)  # (model config) -> why this model_type cannot
                                                                 #   compute it ([]: it can); None: save says


@dataclass(frozen=True)
class Family:
    name: str                               # config.json's "family"
    summary: str                            # one line, for --help and `lmlab info`
    configs: Mapping[str, str] = field(metadata=REF)  # config.json sections -> config class ("module:Class")
    model: str = field(metadata=REF)        # built from the model config, or a builder (configs, meta) -> model
    model_takes: str = "config"             # "config": model(configs["model"]); "sections": model(configs, meta)
    presets: str | None = field(default=None, metadata=REF)  # "module:PRESETS" ({name: settings}); the module
                                                             #   has preset(name)
    default_preset: str | None = None
    count: str | None = field(default=None, metadata=REF)   # parameter count of a model config, without building it
    memory: str | None = field(default=None, metadata=REF)  # the memory bill of a training step (cfg, batch=, …)
    defaults: Mapping[str, str] = field(default_factory=dict, metadata=REF)  # section -> a default other than Class()
    tokenizer: str = ""                     # what tokenizes its text, in words
    hf: Mapping[str, Converter] = field(default_factory=dict, metadata=REF)  # Hugging Face model_type -> its
                                            #   converter, in the order an export tries them
    heads: Mapping[str, str] = field(default_factory=dict, metadata=REF)   # task -> head class
    lm: str = ""                            # the language-model objective it pretrains on: "causal" or "masked"
    batches: str | None = field(default=None, metadata=REF)  # (text, tok, model_cfg, data_cfg, batch_size, seed,
                                            #   n_eval) -> (train, val, val_ids): its pretraining batches
    train: str | None = field(default=None, metadata=REF)    # the recipe behind `lmlab train NAME`
    train_options: tuple[str, ...] = ()     # optional flags of `lmlab train NAME`: config, init, tokenizer, lora, nf4
    init_config: str | None = field(default=None, metadata=REF)  # (path) -> model config of a `train --init`
                                                                 #   source (default: a run of it)
    commands: tuple[str, ...] = ()          # commands that take a run of this family
    token_vectors: str | None = field(default=None, metadata=REF)  # (folder, texts, …) -> a contextual vector
                                                                   #   per word (`embed --tokens`)
    next_step: str = ""                     # what to do with a finished run ({out} is filled in)
    about: str = ""                         # `lmlab train NAME --help`: what training does and writes
    data_help: str = "bundled corpus name (see `lmlab data list`), a UTF-8 text file, or a folder of text files"
    examples: str = ""                      # example command lines, one a line

    def config_classes(self) -> dict[str, type]:
        return {section: resolve(ref) for section, ref in self.configs.items()}

    def default_configs(self) -> dict[str, Any]:
        """An instance per section: the family's training defaults where it has its own, else Class()."""
        return {section: resolve(self.defaults[section]) if section in self.defaults else cls()
                for section, cls in self.config_classes().items()}

    def preset_names(self) -> list[str]:
        return list(resolve(self.presets)) if self.presets else []

    def published(self, name: str) -> float | None:
        """The parameter count the paper or the released checkpoint gives for a preset (its module's PUBLISHED)."""
        table = getattr(resolve(self.presets.partition(":")[0] + ":"), "PUBLISHED", {}) if self.presets else {}
        return table.get(name)

    def facts(self, model_cfg) -> list[str]:
        """Lines `lmlab info` adds for this family (its presets module's facts(cfg)), if it has any."""
        module = resolve(self.presets.partition(":")[0] + ":") if self.presets else None
        return module.facts(model_cfg) if hasattr(module, "facts") else []

    def preset(self, name: str):
        """The model config of a preset; an unknown name gets the presets module's error, which lists them."""
        if not self.presets:
            raise LmlabError(f"the {self.name} family has no presets")
        return resolve(self.presets.partition(":")[0] + ":preset")(name)  # each presets module has preset(name)

    def build(self, configs: Mapping[str, Any], meta: Mapping[str, Any] | None = None):
        """A freshly initialised model of this family from its checked configs (and config.json)."""
        builder: Callable = resolve(self.model)
        if self.model_takes == "sections":
            return builder(configs, meta or {})
        return builder(configs["model"])


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"family '{family.name}' is registered twice")
    FAMILIES[family.name] = family
    return family


def get(name: str, command: str | None = None) -> Family:
    """The family of that name (and able to serve `command`), or a clear error saying which ones are."""
    if name not in FAMILIES:
        raise LmlabError(f"unknown model family '{name}'; lmlab knows {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    if command is not None and command not in family.commands:
        able = [f.name for f in FAMILIES.values() if command in f.commands]
        raise LmlabError(f"`lmlab {command}` does not take a '{name}' run; it takes {' or '.join(able)} runs")
    return family


def with_preset(name: str) -> Family:
    """The first registered family that has a preset of that name, or an error listing every preset."""
    for family in FAMILIES.values():
        if name in family.preset_names():
            return family
    listing = "; ".join(f"{f.name}: {', '.join(f.preset_names())}" for f in FAMILIES.values() if f.presets
                        and f.default_preset)
    raise LmlabError(f"unknown preset '{name}'; the presets are {listing}")
def of_model_config(cfg: Any) -> Family:
    """The family whose "model" config class is type(cfg) (the first registered; e.g. a generic recipe's)."""
    for family in FAMILIES.values():
        ref = family.configs.get("model")
        if ref and resolve(ref) is type(cfg):
            return family
    raise LmlabError(f"no registered family takes a {type(cfg).__name__} as its model config")


def trainable() -> list[Family]:
    """The families `lmlab train FAMILY` can train, in registration order."""
    return [f for f in FAMILIES.values() if f.train]


TRAIN = "lmlab.train.config:TrainConfig"  # the training section every family shares
