"""What a BERT would put in place of [MASK]: `lmlab fill-mask` (transformers' fill-mask pipeline)."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError


def _table(text: str, masks) -> list[str]:
    """A text's guesses for the terminal: per [MASK], one line per guess (probability, token, filled text)."""
    lines = [text]
    for m, guesses in enumerate(masks, 1):
        if len(masks) > 1:
            lines.append(f"  [MASK] {m} of {len(masks)}")
        width = max(len(g.token_str) for g in guesses)
        for g in guesses:
            tail = f"  {g.sequence}" if len(masks) == 1 else ""
            lines.append(f"    {g.score:.4f}  {g.token_str:<{width}}{tail}".rstrip())
    return lines


def cmd_fill_mask(args) -> None:
    if not args.text:
        raise LmlabError('no texts: give one or more, each with [MASK] in it, e.g. "The capital of France is [MASK]."')
    from lmlab.tools.fill_mask import fill_mask, load_masked_lm
    model, tok = load_masked_lm(args.run)
    results = fill_mask(model, tok, list(args.text), top_k=args.top_k)
    if args.json:
        import json
        rows = [{"text": text, "masks": [[g._asdict() for g in guesses] for guesses in masks]}
                for text, masks in zip(args.text, results)]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    print("\n\n".join("\n".join(_table(text, masks)) for text, masks in zip(args.text, results)))


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `fill-mask` command's parser."""
    fm = sub.add_parser(
        "fill-mask", formatter_class=fmt, help="what a BERT would put in place of [MASK]: top-k tokens with probabilities",
        description="Write [MASK] (in capitals) where a token is missing; the BERT's masked-LM head, the one it\n"
                    "pretrained with, gives its guesses: the softmax of its logits at that position over the whole\n"
                    "vocabulary, the most probable first. Several [MASK]s in one text are each guessed from the\n"
                    "same input, on their own (not jointly). The answers equal transformers'\n"
                    "pipeline(\"fill-mask\") on the model exported with `lmlab hf export`.\n\n"
                    "With --json, one entry per text: {\"text\": ..., \"masks\": [[{\"score\", \"token\", \"token_str\",\n"
                    "\"sequence\"}, ...], ...]}: a list of guesses per [MASK], left to right, with the pipeline's keys\n"
                    "(sequence: the text with that guess filled in; with several [MASK]s the others stay, as do\n"
                    "[CLS] and [SEP], as the pipeline writes it).",
        epilog="examples:\n"
               '  lmlab fill-mask runs/bert "To be, or not to [MASK]."\n'
               '  lmlab fill-mask runs/bert "The [MASK] of [MASK]." "O [MASK], [MASK]!" --top-k 3\n'
               '  lmlab fill-mask path/to/bert-base-uncased "The capital of France is [MASK]." --json\n'
               "  lmlab hf import path/to/bert-base-uncased --out runs/bert-base    # or import it first")
    fm.add_argument("run", help="an lmlab BERT run (`lmlab train bert`, `lmlab hf import`) or a Hugging Face BERT "
                                "folder with a masked-LM head (BertForMaskedLM, BertForPreTraining)")
    fm.add_argument("text", nargs="*", help="texts, each with one or more [MASK]")
    fm.add_argument("--top-k", type=int, default=5, help="guesses per [MASK] (default: 5)")
    fm.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fm.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_fill_mask(args)
