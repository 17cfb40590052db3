"""`lmlab quantize nf4`: a copy of a GPT run with its linear layers in 4-bit NF4, and its cost in perplexity.

QLoRA's storage (Dettmers et al. 2023; lmlab.ops.nf4, lmlab.peft.qlora): every linear layer but
the output layer keeps 4-bit codes and block scales instead of its weight; embeddings, norms and
the (often tied) LM head stay as they were. The new run directory holds the quantised tensors in
model.safetensors and, in config.json, a "quantization" section with the settings, the measured
bits per weight and the validation loss before and after (what `lmlab info` shows). `lmlab generate`
loads it like any run: the layers are rebuilt as NF4Linear and dequantise on the fly.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from lmlab import __version__
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import load_config, save_config, save_weights, unique_state_dict
from lmlab.nn.nf4_linear import NF4Config, nf4_memory, quantize_model
from lmlab.runs.directory import check_run_dir, prepare_run_dir
from lmlab.runs.evaluate import lm_val_loss
from lmlab.runs.run import QUANTIZATION as SECTION
from lmlab.runs.run import Run


def checkpoint_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in unique_state_dict(model).values())


def quantize_run(run: str | Path, out: str | Path | None = None, blocksize: int = 64, double_quant: bool = True,
                 overwrite: bool = False) -> dict:
    """Write an NF4 copy of GPT run `run` to `out` (default RUN-nf4); returns the "quantization" section."""
    source = Run.open(run, command="quantize")
    run, meta = source.path, source.meta
    if SECTION in meta and meta[SECTION].get("qlora"):
        raise LmlabError(f"{run} is a QLoRA run: its base is NF4 already (and its adapters are not); sample it "
                         f"as it is, or merge it into a plain run (`lmlab lora merge {run}`) and quantise that")
    if SECTION in meta:
        raise LmlabError(f"{run} is already quantised to NF4 (from {meta[SECTION].get('source_run', '?')}); "
                         "quantise the original run instead")
    out = Path(out) if out is not None else run.with_name(run.name + "-nf4")
    if out.resolve() == run.resolve():
        raise LmlabError("--out must be a new directory: the original run is kept as it is")
    if out.exists() and any(out.iterdir()) and not overwrite:  # refuse before the slow part
        raise LmlabError(f"{out} already exists and is not empty; choose another --out, or replace that run "
                         "with --overwrite")
    check_run_dir(out, resume=False, overwrite=overwrite)
    try:
        cfg = NF4Config(blocksize=blocksize, double_quant=double_quant)
    except ValueError as e:
        raise LmlabError(f"--block-size: {e}") from None

    model = source.model()
    n_params, bytes_before = model.num_parameters(), checkpoint_bytes(model)
    before = lm_val_loss(model, source)
    names = quantize_model(model, cfg)
    after = lm_val_loss(model, source)
    mem = nf4_memory(model)
    stored = checkpoint_bytes(model)
    section = {
        "method": "nf4", "blocksize": blocksize, "double_quant": double_quant, "targets": list(cfg.targets),
        "layers": len(names), "quantized_weights": mem["weights"], "parameters": n_params,
        "bits_per_weight": mem["bits_per_weight"], "nominal_bits_per_weight": cfg.bits_per_weight,
        "checkpoint_bytes": stored, "checkpoint_bytes_before": bytes_before,
        "val_loss_before": before, "val_loss_after": after, "source_run": str(run),
    }
    out = prepare_run_dir(out, resume=False, overwrite=overwrite)
    kept = {k: meta[k] for k in ("family", "source", "model", "data") if k in meta}
    save_config(out, {"lmlab_version": __version__, **kept, SECTION: section})
    save_weights(out, model, step=0)
    if (run / "tokenizer.json").is_file():  # an imported Hugging Face folder may have come without one
        shutil.copyfile(run / "tokenizer.json", out / "tokenizer.json")
    return {**section, "out": str(out)}


def describe(run_dir: str | Path) -> list[str]:
    """`lmlab info` lines for a quantised run (none for any other run)."""
    q = load_config(run_dir).get(SECTION)
    if not q:
        return []
    try:
        return _describe(q)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        raise LmlabError(f"the {SECTION!r} section of {run_dir}/config.json is damaged ({e!r}); re-quantise "
                         "the original run") from None


def _describe(q: dict) -> list[str]:
    bs, dq = q["blocksize"], q["double_quant"]
    formula = f"4 + 8/{bs} + 32/({bs}·256)" if dq else f"4 + 32/{bs}"
    if q.get("qlora"):  # trained with --lora --nf4: settings only (its losses are in metrics.jsonl)
        return [f"NF4             QLoRA: the frozen base's linear layers ({', '.join(q['targets'])}) in NF4 under "
                f"the LoRA adapters, block {bs}, {'with' if dq else 'without'} double quantisation "
                f"({formula} = {q['nominal_bits_per_weight']:.3f} bits a weight)"]
    size = lambda b: f"{b / 2**20:.2f} MiB" if b >= 2**20 else f"{b / 2**10:.1f} KiB"
    extra = ", plus per layer an fp32 mean and a partly filled last block of scales" if dq else ""
    lines = [
        f"NF4             {q['layers']} linear layers ({', '.join(q['targets'])}), block {bs}, "
        f"{'with' if dq else 'without'} double quantisation",
        f"  storage       {q['bits_per_weight']:.3f} bits = {q['bits_per_weight'] / 8:.4f} bytes per quantised weight "
        f"(nominal {formula} = {q['nominal_bits_per_weight']:.3f}{extra}; fp32: 32, bf16: 16)",
        f"  checkpoint    {size(q['checkpoint_bytes'])}, was {size(q['checkpoint_bytes_before'])}: "
        f"{q['checkpoint_bytes'] / q['parameters']:.3f} bytes per parameter overall (the other "
        f"{q['parameters'] - q['quantized_weights']:,} parameters: embeddings, norms, biases stay as they were)",
    ]
    b, a = q.get("val_loss_before"), q.get("val_loss_after")
    if b is None or a is None:
        lines.append("  validation    not measured (the corpus was not available when quantising)")
    else:
        pb, pa = math.exp(b), math.exp(a)
        lines.append(f"  validation    loss {b:.4f} -> {a:.4f}, perplexity {pb:.3f} -> {pa:.3f} "
                     f"({100 * (pa / pb - 1):+.2f} %) on the validation split of {q['source_run']}")
    return lines

