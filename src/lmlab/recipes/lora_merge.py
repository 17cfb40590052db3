"""`lmlab lora merge RUN`: fold a LoRA run's adapters into its weights and write a plain run.

W ← W + (α/r)·B·A in every adapted layer (Hu et al. 2021, §4.1: "no additional inference latency"). The
new run has the old one's config.json without its "lora" section, the merged model.safetensors, and
its tokenizer, metrics, plots and results; no train_state.pt (the optimizer state was the adapters').
A QLoRA run (--lora --nf4) is merged the same way into its dequantised NF4 base: the plain run computes
what the QLoRA run computed (float rounding aside), in full precision, and the "quantization" section goes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lmlab.errors import LmlabError
from lmlab.io.checkpoint import save_config, save_weights
from lmlab.nn.nf4_linear import dequantize_model
from lmlab.peft.lora import lora_layers, merge_lora
from lmlab.runs.directory import NOT_COPIED, prepare_run_dir
from lmlab.runs.evaluate import probe
from lmlab.runs.run import LORA, QUANTIZATION, Run


def merge_run(run: str | Path, out: str | Path | None = None, overwrite: bool = False) -> dict:
    """Write the merged plain run of LoRA run `run` to `out` (default: RUN-merged); returns what was done."""
    run = Run.open(run, command="lora")
    out = Path(out) if out is not None else run.path.with_name(run.path.name + "-merged")
    meta = run.meta
    if run.lora is None:
        raise LmlabError(f"{run} was not trained with --lora (its config.json has no 'lora' section); "
                         "nothing to merge")
    if out.resolve() == run.path.resolve():
        raise LmlabError("--out must differ from the run: a merged run replaces no LoRA run in place")
    nf4 = run.nf4  # a QLoRA run (--nf4): its base is stored in NF4
    model = run.model(plain=False)
    n_layers = len(lora_layers(model))
    before = probe(model)
    if nf4 is not None:
        dequantize_model(model)  # W = the NF4 weight, dequantised: what the run trained on
    merge_lora(model)
    diff = (probe(model) - before).abs().max().item()

    out = prepare_run_dir(out, resume=False, overwrite=overwrite)
    for item in run.path.iterdir():
        if item.name not in NOT_COPIED and not item.name.startswith("."):
            (shutil.copytree if item.is_dir() else shutil.copyfile)(item, out / item.name)
    merged_meta = {k: v for k, v in meta.items() if k not in (LORA, QUANTIZATION)}
    save_config(out, {**merged_meta, "merged_from": str(run.path.resolve()), "merged_lora": meta[LORA],
                      **({"merged_quantization": meta[QUANTIZATION]} if nf4 is not None else {})})
    save_weights(out, model, run.step)
    return {"out": str(out), "family": run.name, "n_layers": n_layers, "max_abs_diff": diff, "step": run.step}
