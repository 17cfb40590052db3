"""Translate with an encoder-decoder run: `lmlab translate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmlab.cli._common import skip_bad_flag
from lmlab.errors import LmlabError
from lmlab.ops.backends import BACKENDS


def cmd_translate(args) -> None:
    from lmlab.generate.decoding import GenerationConfig
    from lmlab.recipes.translate import translate

    texts = list(args.text)
    if args.input is not None:
        from lmlab.recipes.embed import read_texts
        texts += read_texts(args.input, args.skip_bad)
    for flag, value in (("--num-beams", args.num_beams), ("--batch-size", args.batch_size),
                        ("--max-new-tokens", args.max_new_tokens)):
        if value is not None and value <= 0:
            raise LmlabError(f"{flag} must be positive, got {value}")
    cfg = GenerationConfig(temperature=0.0, num_beams=args.num_beams, length_penalty=args.length_penalty,
                           use_cache=not args.no_cache)
    outs, fonts = translate(args.run, texts, cfg, args.batch_size, args.max_new_tokens, args.device, args.backend,
                            args.attention_map, args.head, args.layer, not args.no_placeholder_guard)
    if args.out:
        from lmlab.io.atomic import atomic_write_text
        atomic_write_text(Path(args.out), "".join(o.replace("\n", " ") + "\n" for o in outs))
        print(f"wrote {len(outs)} translations to {args.out}", file=sys.stderr)
    else:
        for o in outs:
            print(o)
    if args.attention_map:
        print(f"wrote the cross-attention of the first text to {args.attention_map}"
              + ("" if fonts else " (no CJK font found: Chinese characters are labelled by code point; "
                                  "install e.g. fonts-noto-cjk to see them)"), file=sys.stderr)


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `translate` command's parser."""
    tr = sub.add_parser(
        "translate", formatter_class=fmt, help="translate texts with a run from `lmlab train seq2seq`",
        description="Translate each text with a trained encoder-decoder run, one translation per line.\n"
                    "Greedy by default; --num-beams K keeps the K best partial translations, scored by\n"
                    "log-probability / length**(--length-penalty). The source is encoded once; the decoder\n"
                    "reuses its cross-attention keys/values and a KV cache (--no-cache recomputes all, for\n"
                    "comparison). Texts are batched by length. --attention-map draws which source tokens\n"
                    "each target token attended to (the first text; one decoder layer; mean over heads).\n"
                    "Placeholders (%s, %lu, %1$s, %(name)s, {0}) are kept: each translation holds exactly its\n"
                    "source's, in an order printf accepts (as `msgfmt -c` checks), by constrained decoding\n"
                    "over reserved <phk> tokens (runs trained with masking) or over the raw text (older runs).",
        epilog="examples:\n  lmlab translate runs/en-zh \"File not found\" \"%s: cannot open\"\n"
               "  lmlab translate runs/en-zh --input messages.txt --num-beams 4 --out messages.zh.txt\n"
               "  lmlab translate runs/en-zh \"Permission denied\" --attention-map attn.png --head 2\n"
               "  lmlab translate runs/en-zh \"%s: copied %lu of %lu\" --no-placeholder-guard   # unconstrained")
    tr.add_argument("run", help="run directory from `lmlab train seq2seq`")
    tr.add_argument("text", nargs="*", help="texts to translate (or use --input)")
    tr.add_argument("--input", metavar="FILE", help="a UTF-8 file of texts, one per line (blank lines skipped)")
    tr.add_argument("--out", metavar="FILE", help="write the translations there, one per line, instead of printing")
    tr.add_argument("--num-beams", type=int, default=1, help="beam search with K beams (default: 1 = greedy)")
    tr.add_argument("--length-penalty", type=float, default=1.0,
                    help="beam scores are log-prob / length**penalty; >1 favours longer (default: 1.0)")
    tr.add_argument("--max-new-tokens", type=int,
                    help="longest translation in tokens (default: twice the longest source in the batch + 10)")
    tr.add_argument("--batch-size", type=int, default=32, help="texts decoded together (default: 32)")
    tr.add_argument("--no-cache", action="store_true",
                    help="re-run the decoder over the whole translation at every step (slow; for comparison)")
    tr.add_argument("--backend", choices=BACKENDS, default=None,
                    help="attention kernel for this call (default: the model's, normally auto: the fastest "
                          "measured here for each kind of call)")
    tr.add_argument("--no-placeholder-guard", action="store_true",
                    help="decode without the placeholder constraint (translations may drop or add a %%s; "
                         "for comparison)")
    tr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    skip_bad_flag(tr)
    tr.add_argument("--attention-map", metavar="PNG", help="draw the cross-attention of the first text")
    tr.add_argument("--head", type=int, help="with --attention-map: one head instead of the mean over heads")
    tr.add_argument("--layer", type=int, default=-1,
                    help="with --attention-map: the decoder layer (default: -1, the last)")
    tr.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_translate(args)
