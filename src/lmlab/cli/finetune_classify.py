"""`lmlab finetune classify`: a sequence-classification head on a pretrained BERT."""

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

FINETUNE_EXAMPLES = """\
examples:
  lmlab finetune classify --model runs/bert --data reviews.csv --out runs/reviews
  lmlab finetune classify --model runs/bert --data fortunes.en.jsonl --labels computers,food,law \\
      --truncation head+tail --max-len 128 --freeze-layers 1 --lr 3e-4 --max_steps 500 --out runs/topics
  lmlab finetune classify --model path/to/hf-bert --data long.tsv --text-column body --label-column tag \\
      --truncation sliding-window --max-len 256 --stride 128 --lr 2e-5 --out runs/long
  lmlab finetune classify --model runs/bert --data reviews.csv --lora r=8,alpha=16,targets=qkv,ff --lr 1e-3 \
      --out runs/reviews-lora          # LoRA: the encoder frozen, adapters + classifier train; then:
  lmlab lora merge runs/reviews-lora   # a plain run with W + (alpha/r) B A folded in
  lmlab finetune classify --model runs/bert --data reviews.csv --lora r=8,targets=all-linear --nf4 --lr 1e-3 \
      --out runs/reviews-qlora         # QLoRA: the frozen encoder stored in 4-bit NF4
"""


def _finetune_keys_help() -> str:
    """Like keys_help, with the fine-tuning defaults (lr 1e-4, warmup_linear, …) instead of the classes'."""
    from lmlab.recipes.finetune_classify import default_configs
    return keys_help(default_configs(), "config keys (set with --key value; defaults are fine-tuning's):")


def run(args, extra: list[str]) -> None:
    from lmlab.cli.finetune import task_configs
    from lmlab.recipes.finetune_classify import finetune_classify
    from lmlab.runs.directory import restore_on_failure

    flags = {"text_column": args.text_column, "label_column": args.label_column, "truncation": args.truncation,
             "max_len": args.max_len, "stride": args.stride, "freeze_layers": args.freeze_layers,
             "pooling": args.pooling}
    cfgs = task_configs("finetune_classify", extra, flags)
    lora = lora_config(args.lora)
    nf4 = nf4_config(args.nf4, lora)
    with restore_on_failure(args.out, resume=False, overwrite=args.overwrite):
        res = finetune_classify(args.model, args.data, cfgs["data"], cfgs["train"], cfgs["finetune"], args.out,
                                overwrite=args.overwrite, quiet=args.quiet, lora=lora, nf4=nf4,
                                skip_bad=args.skip_bad)
    print(f"run saved in {args.out}; test accuracy {res['test_accuracy']:.4f}, macro-F1 "
          f"{res['test_macro_f1']:.4f} on {res['n_test']} texts (majority class {res['majority_accuracy']:.4f}); "
          f"results.json and confusion.png written")


def add_parser(ftsub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The parser of `lmlab finetune classify` (a sub-command of `finetune`)."""
    fc = ftsub.add_parser(
        "classify", formatter_class=fmt,
        help="text classification: a linear head on a pretrained BERT (lmlab run or Hugging Face folder)",
        description="Fine-tune a BERT for text classification: a linear head on the pooled [CLS] (or on the "
                    "mean of the tokens, --pooling mean), a small "
                    "learning rate with warm-up (default 1e-4, linear warm-up and decay), optionally the "
                    "embeddings and the lowest K layers frozen. The data (CSV with a header, TSV or JSONL) "
                    "is split per label into train / validation / test (seeded). Long texts: head, tail, "
                    "head+tail (the notes' 128 + 382 / 256 + 254 for 512, scaled) or sliding windows whose "
                    "logits are averaged. Writes config.json, model.safetensors, tokenizer.json, "
                    "metrics.jsonl, loss.png, then results.json (test accuracy, macro-F1) and confusion.png.",
        epilog=lambda: _finetune_keys_help() + "\n\n" + FINETUNE_EXAMPLES)
    fc.add_argument("--model", required=True, help="an lmlab BERT run (`lmlab train bert`) or a Hugging Face "
                                                   "BERT folder")
    fc.add_argument("--data", required=True, help="a .csv (header row), .tsv or .jsonl file of labelled texts")
    fc.add_argument("--text-column", help="column of the text (default: text)")
    fc.add_argument("--label-column", help="column of the label (default: label)")
    fc.add_argument("--truncation", choices=("head", "tail", "head+tail", "sliding-window"),
                    help="how a long text fits max-len (default: head)")
    fc.add_argument("--max-len", type=int, help="tokens per sequence, [CLS] and [SEP] included (default: 128)")
    fc.add_argument("--stride", type=int, help="sliding-window step in tokens (default: half a window)")
    fc.add_argument("--freeze-layers", type=int, metavar="K",
                    help="freeze the embeddings and the K lowest encoder layers (default: 0, none)")
    fc.add_argument("--pooling", choices=("cls", "mean"),
                    help="what the head reads: cls, BERT's pooler (dense + tanh) on [CLS], as Hugging Face's "
                         "BertForSequenceClassification; mean, the average of the real tokens' final states, "
                         "better for an encoder pretrained by MLM alone, whose [CLS] and pooler never trained "
                         "(default: cls)")
    fc.add_argument("--out", required=True, help="run directory to create")
    fc.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    fc.add_argument("--lora", metavar="SPEC", help=LORA_HELP + " (the classifier always trains in full)")
    fc.add_argument("--nf4", action="store_true", help=NF4_HELP)
    fc.add_argument("--quiet", action="store_true", help="no progress bar")
    skip_bad_flag(fc)
    fc.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
