"""`Run`: a run folder's config.json (its schema and rules), its model and its tokenizer.

config.json holds "lmlab_version", "family" (a registered family), "source" (the corpus: a bundled
name, an absolute path, or "hf:FOLDER" for an import), one section per config class of the family
("model", "train", "data", …), and, for adapted runs, "lora" (a LoRAConfig) and "quantization" (the
NF4 settings of a QLoRA or `quantize nf4` run). Every rule that spans sections is checked here, once:
NF4 needs LoRA under training, the corpus must still be there to resume, a run of another family is
named as such, a damaged section says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from lmlab import __version__
from lmlab.config import config_from_dict, to_dict
from lmlab.data.corpora import BUNDLED
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import CONFIG_FILE, load_config, load_weights, save_config
from lmlab.nn.nf4_linear import NF4Config, dequantize_model, quantize_model
from lmlab.peft.lora import LoRAConfig, inject_lora, merge_lora
from lmlab.runs import families
from lmlab.runs.families import Family

LORA, QUANTIZATION = "lora", "quantization"  # config.json's sections of an adapted run
TOKENIZER = "tokenizer.json"


def check_qlora(lora: LoRAConfig | None, nf4: NF4Config | None) -> None:
    """QLoRA stores the frozen base in NF4 *under* LoRA adapters: NF4 alone does not train."""
    if nf4 is not None and lora is None:
        raise LmlabError("--nf4 stores the frozen base in 4 bits under LoRA adapters (QLoRA), so it needs --lora: "
                         "e.g. --lora r=8,alpha=16,targets=qkv --nf4 (to quantise a trained run instead: "
                         "`lmlab quantize nf4 RUN`)")


def nf4_section(cfg: NF4Config, qlora: bool) -> dict:
    """The "quantization" settings a run records to rebuild its NF4 layers (`quantize nf4` adds measurements)."""
    return {"method": "nf4", "blocksize": cfg.blocksize, "double_quant": cfg.double_quant,
            "targets": list(cfg.targets), "compute_dtype": cfg.compute_dtype,
            "nominal_bits_per_weight": cfg.bits_per_weight, **({"qlora": True} if qlora else {})}


def run_config(family: str, configs: Mapping[str, Any], *, source: str | None = None,
               lora: LoRAConfig | None = None, nf4: NF4Config | None = None, **extra: Any) -> dict:
    """The config.json of a new run of `family`: its sections from `configs` (dataclasses), the corpus,
    the adapters' sections (a QLoRA run's NF4 settings) and any family-specific keys in `extra`."""
    families.get(family)
    check_qlora(lora, nf4)
    return {"lmlab_version": __version__, "family": family, **({"source": source} if source is not None else {}),
            **extra, **{name: to_dict(cfg) for name, cfg in configs.items()},
            **({LORA: to_dict(lora)} if lora else {}), **({QUANTIZATION: nf4_section(nf4, qlora=True)} if nf4 else {})}


def write_run_config(run_dir: str | Path, family: str, configs: Mapping[str, Any], **kw: Any) -> dict:
    meta = run_config(family, configs, **kw)
    save_config(Path(run_dir), meta)
    return meta


class Run:
    """A run folder as lmlab wrote it: `Run.open(path)`, then its configs, model, tokenizer and rules."""

    def __init__(self, path: str | Path, meta: dict[str, Any]):
        self.path, self.meta = Path(path), meta
        if meta["family"] not in families.FAMILIES:
            raise LmlabError(f"{self.path / CONFIG_FILE} names an unknown family '{meta['family']}' "
                             f"(lmlab knows {', '.join(families.FAMILIES)}); is it from a newer lmlab?")
        self.family: Family = families.FAMILIES[meta["family"]]

    @classmethod
    def open(cls, path: str | Path, family: str | tuple[str, ...] | None = None, command: str | None = None) -> Run:
        """The run in `path`; refused with a clear line if it is none, damaged, of another family than
        `family`, or of a family that `lmlab command` does not take."""
        meta = load_config(path, required=("family",))
        wanted = (family,) if isinstance(family, str) else family
        if wanted and meta["family"] not in wanted:
            names = " or ".join(f"'{w}'" for w in wanted)
            raise LmlabError(f"{path} holds a '{meta['family']}' run, not a {names} run")
        run = cls(path, meta)
        if command is not None:
            families.get(run.name, command)
        return run

    @property
    def name(self) -> str:
        return self.meta["family"]

    def section(self, name: str) -> Any:
        if name not in self.meta:
            raise LmlabError(f"{self.path / CONFIG_FILE} is damaged (no {name!r}); restore it or retrain")
        return self.meta[name]

    def configs(self, *sections: str) -> dict[str, Any]:
        """The named sections (default: every section the family has) as checked config dataclasses."""
        classes = self.family.config_classes()
        sections = sections or tuple(s for s in classes if s == "model" or s in self.meta)  # a model always
        raw = {name: self.section(name) for name in sections}  # a missing section says so itself
        try:
            return {name: config_from_dict(classes[name], value) for name, value in raw.items()}
        except LmlabError as e:
            raise LmlabError(f"{self.path / CONFIG_FILE} is damaged ({e}); restore it or retrain") from None

    def config(self, section: str) -> Any:
        return self.configs(section)[section]

    @cached_property
    def lora(self) -> LoRAConfig | None:
        """The LoRA adapters' settings, or None for a run without adapters."""
        if self.meta.get(LORA) is None:
            return None
        try:
            return config_from_dict(LoRAConfig, self.meta[LORA])
        except LmlabError as e:
            raise LmlabError(f"{self.path / CONFIG_FILE} has a damaged 'lora' section ({e}); restore it or "
                             "retrain") from None

    @cached_property
    def nf4(self) -> NF4Config | None:
        """The NF4 settings of a QLoRA or quantised run, or None."""
        q = self.meta.get(QUANTIZATION)
        if q is None:
            return None
        try:
            return NF4Config(blocksize=q["blocksize"], double_quant=q["double_quant"], targets=tuple(q["targets"]),
                             compute_dtype=q.get("compute_dtype"))
        except (KeyError, TypeError, ValueError) as e:
            raise LmlabError(f"{self.path / CONFIG_FILE} has a damaged {QUANTIZATION!r} section ({e!r}); restore "
                             "it or retrain") from None

    @property
    def qlora(self) -> bool:
        return bool((self.meta.get(QUANTIZATION) or {}).get("qlora"))

    # ---- the corpus ------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.meta.get("source", ""))

    def has_corpus(self) -> bool:
        s = self.source
        return bool(s) and not s.startswith("hf:") and (s in BUNDLED or Path(s).exists())

    def corpus(self, why: str = "cannot resume") -> str:
        """The run's corpus (a bundled name or a path), or a clear error when it is gone."""
        if self.source.startswith("hf:") or not self.source:
            raise LmlabError(f"{why}: {self.path} was imported from Hugging Face and names no corpus; give one "
                             "with --data")
        if not self.has_corpus():
            raise LmlabError(f"{why}: the run's corpus {self.source} (\"source\" in its config.json) is gone; "
                             "put it back there")
        return self.source

    # ---- the model ----------------------------------------------------------------------------------
    def build(self):
        """A freshly initialised model of the run's family and shape (no weights loaded)."""
        return self.family.build(self.configs(), self.meta)

    def load_weights(self, model, plain: bool = True) -> int:
        """Load the run's weights into `model` (built to its shape); returns the saved step. An NF4 run gets its
        NF4 layers and a LoRA run its adapters first; plain=True then dequantises and merges, so the model is
        an ordinary float one computing what the run computes."""
        lora, nf4 = self.lora, self.nf4
        if nf4 is not None:
            quantize_model(model, nf4)
        if lora is not None:
            inject_lora(model, lora)
        step = load_weights(self.path, model)
        if plain and nf4 is not None:
            dequantize_model(model)
        if plain and lora is not None:
            merge_lora(model)
        return step

    def model(self, plain: bool = True):
        """The trained model: plain (adapters merged, NF4 dequantised), or as saved (plain=False)."""
        model = self.build()
        self.step = self.load_weights(model, plain)
        return model

    def tokenizer(self, file: str = TOKENIZER, vocab_size: int | None = None) -> TextTokenizer:
        """A tokenizer file of the run, checked against the model's vocabulary size."""
        path = self.path / file
        if not path.is_file():
            raise LmlabError(f"{self.path} has no {file}")
        if vocab_size is None and "model" in self.meta:
            vocab_size = self.meta["model"].get("vocab_size")
        return TextTokenizer.load(path, model_vocab_size=vocab_size)
