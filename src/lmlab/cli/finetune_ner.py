"""`lmlab finetune ner`: a token-classification head (named entities) on a pretrained BERT."""

from __future__ import annotations

import argparse

from lmlab.cli._common import (
    LORA_HELP,
    NF4_HELP,
    keys_help,
    lora_config,
    nf4_config,
    skip_bad_flag,
)

EXAMPLES = """\
examples:
  lmlab finetune ner --model runs/bert --data train.conll --out runs/ner       # val and test: 10 % each
  lmlab finetune ner --model runs/bert --data train.conll --val dev.conll --test test.conll \\
      --lr 5e-4 --max_steps 1000 --max-len 128 --out runs/ner
  lmlab finetune ner --model path/to/hf-bert --data eng.train --test eng.testb --scheme iob1 --lr 3e-5 \\
      --out runs/conll03                                 # the original CoNLL-2003 files are IOB1
  lmlab finetune ner --model runs/bert --data train.conll --lora r=8,targets=qkv,ff --lr 1e-3 --out runs/ner-lora
  lmlab tag runs/ner "Perl bindings for the libfoo library, see also python3-foo"
  lmlab hf export runs/ner --out exported/ner            # a BertForTokenClassification with id2label

a CoNLL file: one word a line, the label last (tab- or space-separated, other columns ignored), a blank line
between sentences, -DOCSTART- lines skipped; labels O, B-TYPE, I-TYPE (IOB2, also called BIO):
  Perl      B-PKG
  bindings  O
"""


def _keys_help() -> str:
    from lmlab.recipes.finetune_ner import default_configs
    return keys_help(default_configs(), "config keys (set with --key value; defaults are fine-tuning's):")


def run(args, extra: list[str]) -> None:
    from lmlab.cli.finetune import task_configs
    from lmlab.recipes.finetune_ner import finetune_ner
    from lmlab.runs.directory import restore_on_failure

    flags = {"max_len": args.max_len, "scheme": args.scheme, "freeze_layers": args.freeze_layers}
    cfgs = task_configs("finetune_ner", extra, flags)
    lora = lora_config(args.lora)
    nf4 = nf4_config(args.nf4, lora)
    with restore_on_failure(args.out, resume=False, overwrite=args.overwrite):
        res = finetune_ner(args.model, args.data, cfgs["data"], cfgs["train"], cfgs["finetune"], args.out,
                           val=args.val, test=args.test, overwrite=args.overwrite, quiet=args.quiet,
                           skip_bad=args.skip_bad, lora=lora, nf4=nf4)
    t, u = res["test"], res["test_unseen"]
    print(f"run saved in {args.out}; test entity F1 {t['f1']:.4f} (precision {t['precision']:.4f}, recall "
          f"{t['recall']:.4f}, {t['support']} entities in {res['n_test']} sentences); on the {u['support']} "
          f"entities unseen in training F1 {u['f1']:.4f}; a list of the training names scores "
          f"{res['gazetteer']['f1']:.4f}; results.json and test_predictions.conll written")


def add_parser(ftsub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The parser of `lmlab finetune ner` (a sub-command of `finetune`)."""
    p = ftsub.add_parser(
        "ner", formatter_class=fmt,
        help="token classification (named entities): a linear head on every token of a pretrained BERT",
        description="Fine-tune a BERT to label every word of a sentence (named entities, BIO tags), from CoNLL "
                    "files: a linear head on each token's final state; a word's label is trained and read at its "
                    "first WordPiece (the others are ignored, as in the BERT paper and Hugging Face's examples). "
                    "Sentences longer than --max-len pieces are cut into chunks of whole words. The score is "
                    "seqeval's entity-level precision / recall / F1 (an entity counts when its type and both ends "
                    "are right), overall and per type, on the test sentences; results.json adds the same on the "
                    "entities never seen in training, and the score of a plain list of the training entities "
                    "(the memorising baseline). Writes config.json, model.safetensors, tokenizer.json, "
                    "metrics.jsonl, loss.png, results.json and test_predictions.conll.",
        epilog=lambda: _keys_help() + "\n\n" + EXAMPLES)
    p.add_argument("--model", required=True, help="an lmlab BERT run (`lmlab train bert`) or a Hugging Face "
                                                  "BERT folder")
    p.add_argument("--data", required=True, help="a CoNLL file of labelled sentences to train on")
    p.add_argument("--val", help="a CoNLL file of validation sentences (default: val_fraction of --data)")
    p.add_argument("--test", help="a CoNLL file of test sentences (default: test_fraction of --data)")
    p.add_argument("--scheme", choices=("iob2", "iob1"),
                   help="the labels' scheme: iob2 (BIO: every entity begins with B-) or iob1 (the original "
                        "CoNLL-2003 files: I- begins an entity, B- only between two of one type); default iob2")
    p.add_argument("--max-len", type=int, help="pieces per sequence, [CLS] and [SEP] included (default: 128)")
    p.add_argument("--freeze-layers", type=int, metavar="K",
                   help="freeze the embeddings and the K lowest encoder layers (default: 0, none)")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.add_argument("--lora", metavar="SPEC", help=LORA_HELP + " (the classifier always trains in full)")
    p.add_argument("--nf4", action="store_true", help=NF4_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    skip_bad_flag(p)
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
