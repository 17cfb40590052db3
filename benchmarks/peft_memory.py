"""Training memory of full fine-tuning vs LoRA vs QLoRA on the same model and batch, measured and predicted.

    python benchmarks/peft_memory.py                     # gpt2-small 2, 4 × 256; bert-base shape 4, 8 × 128 (~25 min)
    python benchmarks/peft_memory.py --quick             # a small GPT, for a smoke run (~20 s; writes no JSON)
    python benchmarks/peft_memory.py --only "gpt2-small b4"   # one model and batch
    python benchmarks/peft_memory.py --checkpointing --only "gpt2-small b4" "bert-base shape b8"
                                    # the same with activation checkpointing, as the QLoRA paper trains

Goal (issue 7): the measured training peak of QLoRA is at most 40 % of full fine-tuning's, for the
same model and batch; and `lmlab memory --method full|lora|qlora` predicts each.

Each (model, method) runs in a fresh child process (benchmarks/_child.py), as benchmarks/memory_bill.py
does, and is measured the same way: `lmlab.tools.memory.measure_training_peak` takes training steps as
lmlab's Trainer takes them (causal-LM loss, backward, clip_grad_norm_, fused AdamW step,
zero_grad(set_to_none=True)) on random token ids, and `measured` is the largest total size of live
tensors in the steps after the first (the first creates the optimizer states), counted exactly by a
dispatch-mode tracker: what torch.cuda.max_memory_allocated would report on a GPU. `RSS growth` (the
process's resident high-water mark minus its size before the model was built) is shown for contrast;
it also holds allocator caches, the Python runtime's objects and the float model that QLoRA starts
from (it is built in fp32, then quantised: the float copy is freed, but its pages need not go back).

The methods, all in fp32 (weights, gradients, AdamW states, activations):
- full: every parameter trains;
- LoRA: `lmlab.peft.inject_lora`, r = 8, alpha = 16, on q, k, v and out_proj of every block (the
  adapters the bill assumes), everything else frozen;
- QLoRA: `lmlab.peft.prepare_qlora`, the same adapters on a base whose linear layers (all but the
  tied LM head) are `NF4Linear` (block 64, double quantisation: 4.127 bits a weight), dequantised
  about a million weights at a time in forward and backward.
`predicted` is `lmlab.tools.memory.training_bill(...).peak` for the same setting, i.e.
`lmlab memory --preset gpt2-small --batch 4 --seq-len 256 --method qlora --lora-rank 8 --double-quant`.
With --checkpointing every method keeps only each block's input and recomputes the block in backward
(`lmlab.tools.memory.checkpoint_blocks`; Dettmers et al. train QLoRA so, with gradient checkpointing),
predicted with `--checkpointing`; the rows are named "… ckpt" and go to peft_memory_ckpt.json, and the
verdict also compares QLoRA with checkpointing against full fine-tuning without it, when both are in.

"bert-base shape" is a GPT with BERT-base's dimensions (12 layers, d_model 768, 12 heads, d_ff 3072,
vocabulary 30,522, learned positions, GELU, Post-LN as BERT, tied embeddings) trained as a causal LM:
lmlab's memory bill and measure_training_peak know the GPT, and the weight, gradient and optimizer
terms, which LoRA and QLoRA change, are BERT-base's (its token-type embeddings and pooler aside).

Prints a markdown table; writes JSON (machine, torch, one row per model and method) to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from _child import run_child  # benchmarks/ is on sys.path when run as a script
from memory_bill import _status_kib, build_cfg, reset_peak_rss

DEFAULT_JSON = Path(__file__).parent / "results" / "peft_memory.json"
BERT_BASE_SHAPE = dict(vocab_size=30522, max_seq_len=512, d_model=768, n_heads=12, n_layers=12, d_ff=3072,
                       norm_first=False)
MODELS = {  # two batches each: where the weights' bill dominates, and where the activations begin to
    "gpt2-small b2": dict(model="gpt2-small", batch=2, seq_len=256),
    "gpt2-small b4": dict(model="gpt2-small", batch=4, seq_len=256),
    "bert-base shape b4": dict(model=BERT_BASE_SHAPE, batch=4, seq_len=128),
    "bert-base shape b8": dict(model=BERT_BASE_SHAPE, batch=8, seq_len=128),
    "tiny": dict(model="tiny", batch=4, seq_len=64, quick=True),
    "nano": dict(model="nano", batch=8, seq_len=64, quick=True),
}
METHODS = ("full", "lora", "qlora")
RANK, ALPHA = 8, 16.0
GOAL = 0.40


def child(job: dict) -> dict:
    """One model and method: predict, build, measure `steps` training steps; runs in its own process."""
    import torch

    from lmlab.models.gpt.model import GPT
    from lmlab.nn.nf4_linear import NF4Config, nf4_memory
    from lmlab.peft.lora import LoRAConfig, inject_lora
    from lmlab.peft.qlora import prepare_qlora
    from lmlab.tools.memory import checkpoint_blocks, measure_training_peak, random_batches, training_bill

    torch.manual_seed(0)
    cfg = build_cfg(job["model"])
    method = job["method"]
    bill = training_bill(cfg, batch=job["batch"], seq_len=job["seq_len"], method=method, lora_rank=RANK,
                         double_quant=True, checkpointing=job.get("checkpointing", False))
    rss_before = reset_peak_rss()
    model = GPT(cfg)
    params = sum(p.numel() for p in model.parameters())
    lora = LoRAConfig(r=RANK, alpha=ALPHA, targets=("qkvo",))
    nf4 = {}
    if method == "lora":
        inject_lora(model, lora)
    elif method == "qlora":
        prepare_qlora(model, lora, NF4Config(blocksize=64, double_quant=True))
        nf4 = nf4_memory(model)
    if job.get("checkpointing"):
        checkpoint_blocks(model)
    t0 = time.perf_counter()
    m = measure_training_peak(model, random_batches(cfg.vocab_size, job["batch"], job["seq_len"]),
                              optimizer="adamw", steps=job["steps"])
    rss = _status_kib("VmHWM") * 1024 - rss_before
    return {**job, "params": params, "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "weights_measured": m["weights"], "nf4_bits_per_weight": nf4.get("bits_per_weight"),
            "predicted": bill.peak.bytes, "at": bill.peak.formula.removeprefix("at: "),
            "parameters_b": bill.params.bytes, "gradients_b": bill.grads.bytes, "optimizer_b": bill.optimizer.bytes,
            "activations_b": bill.activations.bytes, "measured": m["peak"], "peak_op": m["peak_op"],
            "first_step_measured": m["first_step_peak"], "rss_growth": rss, "ratio": bill.peak.bytes / m["peak"],
            "seconds": time.perf_counter() - t0, "threads": torch.get_num_threads()}


def command(job: dict) -> str:
    """The `lmlab memory` line that prints the same prediction (presets only; a custom shape has none)."""
    if not isinstance(job["model"], str):
        return "training_bill(GPTConfig(**BERT_BASE_SHAPE), …) (no preset: see this script)"
    extra = {"full": "", "lora": f" --lora-rank {RANK}", "qlora": f" --lora-rank {RANK} --double-quant"}
    return (f"lmlab memory --preset {job['model']} --batch {job['batch']} --seq-len {job['seq_len']} "
            f"--method {job['method']}{extra[job['method']]}{' --checkpointing' * bool(job.get('checkpointing'))}")


def table(rows: list[dict]) -> str:
    mib = lambda b: f"{b / 2**20:,.1f}"
    full = {r["name"]: r["measured"] for r in rows if r["method"] == "full" and "error" not in r}
    lines = ["| model | B×T | method | trainable | weights MiB | predicted MiB | measured MiB | pred/meas "
             "| of full (measured) | RSS growth MiB |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | | {r['method']} | {r['error']} | | | | | | |")
            continue
        share = r["measured"] / full[r["name"]] if r["name"] in full else None
        goal = "" if share is None or r["method"] != "qlora" else (" ✓" if share <= GOAL else " ✗")
        lines.append(f"| {r['name']} | {r['batch']}×{r['seq_len']} | {r['method']} | {r['trainable']:,} "
                     f"| {mib(r['weights_measured'])} | {mib(r['predicted'])} | {mib(r['measured'])} "
                     f"| {r['ratio']:.3f} | {'-' if share is None else f'{share:.1%}'}{goal} | {mib(r['rss_growth'])} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small GPTs only (no JSON unless --json)")
    p.add_argument("--only", nargs="*", help=f"models to run: {', '.join(MODELS)}")
    p.add_argument("--steps", type=int, default=2, help="training steps per run; the peak is over steps 2+ (2)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    p.add_argument("--checkpointing", action="store_true", help="every method with activation checkpointing")
    p.add_argument("--json", type=Path, help=f"where to write the rows (default {DEFAULT_JSON}, with "
                                             "--checkpointing peft_memory_ckpt.json; none with --quick)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    names = args.only or [n for n, m in MODELS.items() if bool(m.get("quick")) == args.quick]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    rows = []
    for name in names:
        spec = {k: v for k, v in MODELS[name].items() if k != "quick"}
        if args.checkpointing:
            name, spec = f"{name} ckpt", {**spec, "checkpointing": True}
        for method in METHODS:
            row = run_child(__file__, {"name": name, **spec, "method": method, "steps": args.steps}, args.timeout)
            row["command"] = command(row)
            rows.append(row)
            status = row.get("error") or (f"measured {row['measured'] / 2**20:,.1f} MiB, predicted/measured "
                                          f"{row['ratio']:.3f} ({row['seconds']:.0f} s)")
            print(f"{name:<16} {method:<6} {status}", file=sys.stderr, flush=True)
    print(table(rows))
    verdicts = []
    for name in dict.fromkeys(r["name"] for r in rows):
        by = {r["method"]: r for r in rows if r["name"] == name and "error" not in r}
        if "full" in by and "qlora" in by:
            share = by["qlora"]["measured"] / by["full"]["measured"]
            verdicts.append({"name": name, "qlora_over_full": share, "goal_met": share <= GOAL})
            print(f"{name}: QLoRA peak = {share:.1%} of full fine-tuning's (goal ≤ {GOAL:.0%}: "
                  f"{'met' if share <= GOAL else 'not met'})")
    if args.checkpointing and not args.quick and DEFAULT_JSON.is_file():  # against full fine-tuning without it
        plain = {r["name"]: r for r in json.loads(DEFAULT_JSON.read_text())["rows"]
                 if r["method"] == "full" and "error" not in r}
        for v in verdicts:
            base = plain.get(v["name"].removesuffix(" ckpt"))
            q = next(r for r in rows if r["name"] == v["name"] and r["method"] == "qlora")
            if base is not None and base["batch"] == q["batch"]:
                v["qlora_ckpt_over_full_plain"] = q["measured"] / base["measured"]
                print(f"{v['name']}: QLoRA with checkpointing = {v['qlora_ckpt_over_full_plain']:.1%} of full "
                      f"fine-tuning without it ({DEFAULT_JSON.name})")
    out = args.json or (None if args.quick else
                        DEFAULT_JSON.with_name("peft_memory_ckpt.json") if args.checkpointing else DEFAULT_JSON)
    if out:
        import torch
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                                   "goal": GOAL, "verdicts": verdicts, "rows": rows}, indent=1) + "\n")
        print(f"wrote {out}")
    return 0 if all(v["goal_met"] for v in verdicts) and not any("error" in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
