"""A run's weights in 4 bits: `lmlab quantize nf4`."""

from __future__ import annotations

import argparse

from lmlab.cli._common import (
    bytes_,
)
from lmlab.errors import LmlabError


def cmd_quantize(args) -> None:
    from lmlab.recipes.quantize import quantize_run

    if args.quantize_command != "nf4":
        raise LmlabError("say how to quantise: `lmlab quantize nf4 RUN [--out DIR]`")
    q = quantize_run(args.run, args.out, args.block_size, not args.no_double_quant, args.overwrite)
    print(f"wrote {q['out']}: {q['layers']} linear layers in NF4, {q['bits_per_weight']:.3f} bits per weight; "
          f"checkpoint {bytes_(q['checkpoint_bytes'])} (was {bytes_(q['checkpoint_bytes_before'])})")
    if q["val_loss_before"] is None:
        print("(the run's corpus is not available, so no validation loss was measured)")
    else:
        print(f"validation loss {q['val_loss_before']:.4f} -> {q['val_loss_after']:.4f}; see `lmlab info {q['out']}`, "
              f"sample with `lmlab generate {q['out']}`")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `quantize` command's parser."""
    qz = sub.add_parser("quantize", help="store a run's weights in 4 bits (NF4, as QLoRA does)",
                        description="Quantise a trained run into a new run directory.")
    qsub = qz.add_subparsers(dest="quantize_command", metavar="FORMAT")
    qn = qsub.add_parser(
        "nf4", formatter_class=fmt, help="4-bit NormalFloat with block-wise scales (Dettmers et al. 2023)",
        description="Write a copy of a GPT run whose linear layers (all but the LM head) keep 4-bit NF4 codes\n"
                    "instead of their weights: each block of --block-size weights is divided by its largest\n"
                    "magnitude (absmax) and every value replaced by the nearest of 16 levels placed at\n"
                    "quantiles of the normal distribution, which is how trained weights are distributed.\n"
                    "Double quantisation stores the absmax values in 8 bits too: 4 + 32/64 = 4.5 bits per\n"
                    "weight become 4 + 8/64 + 32/(64·256) = 4.127. Embeddings, norms and the head stay as they\n"
                    "were. The validation loss is measured before and after on the run's own validation split;\n"
                    "`lmlab info` shows it with the bytes per parameter, and `lmlab generate` samples from the\n"
                    "copy (dequantising one chunk of each layer at a time). Layout and values equal\n"
                    "bitsandbytes' quantize_4bit(quant_type=\"nf4\").",
        epilog="examples:\n  lmlab quantize nf4 runs/shakespeare                 # -> runs/shakespeare-nf4\n"
               "  lmlab quantize nf4 runs/shakespeare --out runs/sh-4bit --block-size 128 --no-double-quant\n"
               "  lmlab info runs/shakespeare-nf4")
    qn.add_argument("run", help="a GPT run directory (not changed)")
    qn.add_argument("--out", help="run directory to create (default: RUN-nf4)")
    qn.add_argument("--block-size", type=int, default=64,
                    help="weights per absmax scale (default: 64); larger blocks cost fewer bits, more error")
    qn.add_argument("--no-double-quant", action="store_true",
                    help="keep the absmax scales in fp32 (4.5 bits a weight at block 64, instead of 4.127)")
    qn.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    qn.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_quantize(args)
