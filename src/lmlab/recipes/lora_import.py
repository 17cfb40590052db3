"""`lmlab lora import ADAPTER --base BASE`: a peft adapter on a base model becomes an lmlab LoRA run.

The adapter folder (adapter_config.json + adapter_model.safetensors, as `PeftModel.save_pretrained`
writes it) is read by lmlab.io.peft_adapters.load_adapter onto the base: an lmlab run (gpt, bert or
bert-classifier; an NF4 run gives a QLoRA run) or a Hugging Face GPT-2 / Llama / BERT folder, which is
imported first as `lmlab hf import` would. The new run holds the base's config plus a "lora" section,
base and adapter weights in model.safetensors, the base's tokenizer, and the adapter folder itself in
RUN/adapter/. Everything that takes a LoRA run then takes it: `lmlab generate`, `lmlab lora merge`,
`--init` of `lmlab train gpt`, `lmlab hf export`.

The import is checked before it is kept: the run is loaded back the way every command loads a LoRA run,
and its output on a random batch must equal the output of the model the adapter was loaded into.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from torch import nn

from lmlab.config import to_dict
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import CONFIG_FILE, load_config, save_config, save_weights
from lmlab.io.peft_adapters import load_adapter, read_adapter_config
from lmlab.peft.lora import LoRAConfig, lora_layers
from lmlab.runs.directory import ADAPTER_DIR, NOT_COPIED, prepare_run_dir
from lmlab.runs.evaluate import probe
from lmlab.runs.hf import import_hf
from lmlab.runs.run import Run

TOLERANCE = 1e-5  # largest difference allowed between the model loaded from the new run and the one built here


def _untie(model: nn.Module) -> None:
    """peft's fused c_attn loads as q, k, v sharing one A; a run stores each layer's own A (equal values)."""
    seen: set[int] = set()
    for layer in lora_layers(model).values():
        if id(layer.lora_A) in seen:
            layer.lora_A = nn.Parameter(layer.lora_A.detach().clone())
        seen.add(id(layer.lora_A))


def _uniform(model: nn.Module, lora: LoRAConfig, adapter: Path) -> None:
    """A run's "lora" section has one rank and one alpha: refuse adapters with per-module ones."""
    odd = [f"{name} (r={layer.r}, alpha={layer.alpha:g})" for name, layer in lora_layers(model).items()
           if (layer.r, layer.alpha) != (lora.r, lora.alpha)]
    if odd:
        raise LmlabError(f"{adapter} gives some modules their own rank or alpha (rank_pattern / alpha_pattern: "
                         f"{', '.join(odd[:3])}); a run holds one r and one alpha, so load it in Python with "
                         "lmlab.io.peft_adapters.load_adapter instead")


def import_adapter(adapter: str | Path, base: str | Path | None, out: str | Path, overwrite: bool = False) -> dict:
    """Write the LoRA run `out`: base model `base` (default: the adapter's base_model_name_or_path) plus the
    peft adapter in folder `adapter`. Returns what was done (layers, modules saved whole, check)."""
    adapter = Path(adapter)
    cfg = read_adapter_config(adapter)
    if base is None:
        named = cfg.get("base_model_name_or_path")
        if not named or not Path(named).is_dir():
            raise LmlabError(f"give the base model with --base: {adapter / 'adapter_config.json'} names "
                             f"{named!r} as its base, which is not a folder here (lmlab downloads nothing)")
        base = named
    base = Path(base)
    if not (base / CONFIG_FILE).is_file():
        raise LmlabError(f"--base {base} has no {CONFIG_FILE}; give an lmlab run or a Hugging Face model folder")
    if Path(out).resolve() in (base.resolve(), adapter.resolve()):
        raise LmlabError("--out must be a new folder, not the base or the adapter")

    with tempfile.TemporaryDirectory() as tmp:
        if "family" not in load_config(base, required=()):  # a Hugging Face folder: import it as a run first
            run = import_hf(base, Path(tmp) / "base")
        else:
            run = base
        run = Run.open(run, command="lora")
        meta = run.meta
        if run.lora is not None:
            raise LmlabError(f"{base} has LoRA adapters of its own; `lmlab lora merge` it and import onto the "
                             "merged run")
        model = run.model(plain=False)
        lora = load_adapter(model, adapter)
        _uniform(model, lora, adapter)
        _untie(model)
        expected = probe(model)

        out = prepare_run_dir(out, resume=False, overwrite=overwrite)
        for item in run.path.iterdir():
            if item.name not in NOT_COPIED and not item.name.startswith("."):
                (shutil.copytree if item.is_dir() else shutil.copyfile)(item, out / item.name)
        save_config(out, {**meta, "lora": to_dict(lora), "adapter_from": str(adapter.resolve())})
        save_weights(out, model, run.step)
        shutil.copytree(adapter, out / ADAPTER_DIR, dirs_exist_ok=True)

    reloaded = Run.open(out).model(plain=False)  # as every command loads a LoRA run
    diff = (probe(reloaded) - expected).abs().max().item()
    if not diff <= TOLERANCE:
        raise LmlabError(f"the imported run computes something else than the adapter on its base (largest "
                         f"difference {diff:.2e} > {TOLERANCE:g}); {out} is left for inspection")
    return {"out": str(out), "family": meta["family"], "n_layers": len(lora_layers(model)),
            "modules_to_save": list(lora.modules_to_save), "r": lora.r, "alpha": lora.alpha, "max_abs_diff": diff}
