"""The memory bill of training: `lmlab memory`."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError
from lmlab.ops.backends import BACKENDS


def cmd_memory(args) -> None:
    from lmlab.models.gpt import GPTConfig, preset
    from lmlab.tools.memory import METHODS, OPTIMIZER_STATES, format_bill, training_bill

    for flag, value, choices in (("--optimizer", args.optimizer, OPTIMIZER_STATES), ("--method", args.method, METHODS)):
        if value not in choices:  # checked here, not by argparse: the lists live beside the formulas (torch)
            raise LmlabError(f"{flag} must be one of {', '.join(choices)}, got '{value}'")

    def count(text: str) -> float:  # "7B", "124M", "7e9"
        scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1:].upper(), 1.0)
        try:
            return float(text[:-1] if scale != 1.0 else text) * scale
        except ValueError:
            raise LmlabError(f"--params takes a count like 7e9, 7B or 124M, got '{text}'") from None

    if bool(args.preset) == bool(args.params):
        raise LmlabError("give either --preset NAME or --params COUNT (e.g. --params 7B)")
    shape = {"d_model": args.d_model, "n_layers": args.n_layers, "n_heads": args.n_heads, "d_ff": args.d_ff,
             "vocab_size": args.vocab_size}
    given = [k for k, v in shape.items() if v is not None]
    if args.preset and given:
        raise LmlabError(f"--{given[0].replace('_', '-')} goes with --params; a preset has its own shape")
    for name, value in (("--batch", args.batch), ("--seq-len", args.seq_len), ("--lora-rank", args.lora_rank),
                        *((f"--{k.replace('_', '-')}", shape[k]) for k in given)):
        if value is not None and value <= 0:
            raise LmlabError(f"{name} must be positive, got {value}")
    if args.mixed and args.dtype == "fp32":
        raise LmlabError("--mixed computes in 16 bits: use it with --dtype bf16 (or fp16)")
    params, name, cfg = None, f"preset {args.preset}", None
    if args.preset:
        cfg = preset(args.preset)
    else:
        params = count(args.params)
        if params <= 0:
            raise LmlabError(f"--params must be positive, got {args.params}")
        name = f"{args.params} parameters"
        if args.d_model and args.n_layers:  # enough shape for the activations
            C = args.d_model
            heads = args.n_heads or next(C // d for d in (128, 64, C) if C % d == 0)
            try:
                cfg = GPTConfig(vocab_size=args.vocab_size or 50257, max_seq_len=args.seq_len or 2048, d_model=C,
                                n_heads=heads, n_layers=args.n_layers, d_ff=args.d_ff or 0)
            except ValueError as e:
                raise LmlabError(str(e)) from None
        elif given:
            raise LmlabError("activations need both --d-model and --n-layers (or a --preset)")
    try:
        bill = training_bill(cfg, params=params, batch=args.batch, seq_len=args.seq_len, dtype=args.dtype,
                             mixed=args.mixed, optimizer=args.optimizer, method=args.method,
                             lora_rank=args.lora_rank, double_quant=args.double_quant,
                             checkpointing=args.checkpointing, backend=args.backend, name=name)
    except ValueError as e:
        raise LmlabError(str(e)) from None
    print(format_bill(bill, details=not args.short))


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `memory` command's parser."""
    from lmlab.runs.families import get
    PRESETS = get("gpt").preset_names()
    mem = sub.add_parser(
        "memory", formatter_class=fmt, help="the memory bill of training: weights, gradients, optimizer, activations",
        description="Estimate the memory one training step needs (notes V.3, the 显存账单): parameters,\n"
                    "gradients, optimizer states and activations, each with its formula, their sum, and\n"
                    "the peak (the four never all exist at once: backward frees activations as it creates\n"
                    "gradients). GB = 10^9 bytes as in the notes, GiB = 2^30. The activations are what\n"
                    "autograd saves in lmlab's GPT; benchmarks/memory_bill.py checks the peak against\n"
                    "real training steps.",
        epilog="examples:\n"
               "  lmlab memory --params 7B --dtype fp16                # the notes: 14 GB + 14 GB + 28 GB\n"
               "  lmlab memory --preset gpt2-small --batch 8 --seq-len 1024\n"
               "  lmlab memory --preset gpt2-small --dtype bf16 --mixed --checkpointing\n"
               "  lmlab memory --preset llama2-7b --dtype bf16 --method qlora --batch 1 --seq-len 2048\n"
               "  lmlab memory --params 7B --d-model 4096 --n-layers 32 --dtype bf16 --batch 1 --seq-len 4096")
    mem.add_argument("--preset", help=f"a GPT preset: {', '.join(PRESETS)}")
    mem.add_argument("--params", help="a bare parameter count instead (7e9, 7B, 124M); activations then need "
                                      "--d-model and --n-layers")
    mem.add_argument("--d-model", type=int, help="with --params: width, for the activations")
    mem.add_argument("--n-layers", type=int, help="with --params: depth, for the activations")
    mem.add_argument("--n-heads", type=int, help="with --params: heads (default: d_model / 128)")
    mem.add_argument("--d-ff", type=int, help="with --params: FF width (default: 4 × d_model)")
    mem.add_argument("--vocab-size", type=int, help="with --params: vocabulary (default: 50257)")
    mem.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32",
                     help="what weights, gradients, optimizer states and activations are stored in "
                          "(default: fp32)")
    mem.add_argument("--mixed", action="store_true",
                     help="mixed precision as `lmlab train gpt --dtype bf16` does it: compute in --dtype "
                          "under autocast, keep fp32 master weights, gradients and optimizer states")
    mem.add_argument("--optimizer", default="adamw",
                     help="states per parameter: sgd 0, momentum/nesterov/adagrad/rmsprop 1, "
                          "rmsprop-momentum/adam/adamw/ftrl 2 (default: adamw)")
    mem.add_argument("--batch", type=int, default=8, help="sequences per step (default: 8)")
    mem.add_argument("--seq-len", type=int, help="tokens per sequence (default: the preset's context; 2048)")
    mem.add_argument("--method", default="full",
                     help="full: train every weight; lora: frozen base + adapters on q, k, v, o; "
                          "qlora: the same with the base block matrices in 4-bit NF4 (default: full)")
    mem.add_argument("--lora-rank", type=int, default=8, help="LoRA rank r (default: 8)")
    mem.add_argument("--double-quant", action="store_true",
                     help="QLoRA with double quantisation: 4.127 instead of 4.5 bits a weight")
    mem.add_argument("--checkpointing", action="store_true",
                     help="activation checkpointing: keep only each block's input, recompute in backward")
    mem.add_argument("--backend", choices=BACKENDS,
                     help="attention kernel (default: the model's, normally auto, which trains with sdpa or flash); "
                          "naive saves the T×T probabilities")
    mem.add_argument("--short", action="store_true", help="only the bill, without the itemised activations")
    mem.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_memory(args)
