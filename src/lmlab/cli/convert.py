"""A run converted to a variant of itself: `lmlab convert gqa`."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError


def cmd_convert(args) -> None:
    from lmlab.recipes.convert_gqa import convert_gqa

    if args.convert_command != "gqa":
        raise LmlabError("say what to convert to: `lmlab convert gqa RUN --n-kv-heads K --out DIR`")
    res = convert_gqa(args.run, args.n_kv_heads, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: key/value heads mean-pooled to {args.n_kv_heads}")
    if res["val_loss_mha"] is None:
        print("(the run's corpus is not available, so no validation loss was measured)")
    else:
        print(f"validation loss {res['val_loss_mha']:.4f} (ppl {res['ppl_mha']:.2f}) before, "
              f"{res['val_loss_gqa']:.4f} (ppl {res['ppl_gqa']:.2f}) after; continue training the "
              f"converted run to recover (\"uptraining\" in the GQA paper)")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `convert` command's parser."""
    conv = sub.add_parser("convert", help="convert a run's architecture (multi-head -> grouped-query)",
                          description="Convert a run into a variant of itself.")
    csub = conv.add_subparsers(dest="convert_command", metavar="TARGET")
    cg = csub.add_parser(
        "gqa", formatter_class=fmt, help="mean-pool key/value heads: MHA -> GQA (or MQA with 1)",
        description="Make a grouped-query-attention copy of a multi-head GPT run by averaging the key and "
                    "value projections of each group of heads (Ainslie et al. 2023), and report the "
                    "validation loss before and after. The KV cache shrinks by n_heads / n_kv_heads.")
    cg.add_argument("run", help="a multi-head GPT run directory")
    cg.add_argument("--n-kv-heads", type=int, required=True, help="key/value heads to keep; must divide n_heads")
    cg.add_argument("--out", required=True, help="run directory to create")
    cg.add_argument("--overwrite", action="store_true", help="replace what is in --out")
    cg.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_convert(args)
