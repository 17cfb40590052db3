"""`lmlab finetune qa`: a start/end span head on a pretrained BERT, for extractive question answering."""

from __future__ import annotations

import argparse

from lmlab.cli._common import keys_help, skip_bad_flag

EXAMPLES = """\
examples:
  lmlab finetune qa --model runs/bert --data train-v1.1.json --eval dev-v1.1.json --out runs/squad
  lmlab finetune qa --model path/to/hf-bert --data train.json --max-len 384 --stride 128 --lr 3e-5 \\
      --max_steps 5000 --out runs/squad-base          # a long context: windows every 128 tokens
  lmlab finetune qa --model runs/bert --data train-v2.0.json --unanswerable --out runs/squad2
  lmlab answer runs/squad --question "Which section is curl in?" --context @record.txt
  lmlab hf export runs/squad --out exported/squad     # a BertForQuestionAnswering folder
"""


def _keys_help() -> str:
    from lmlab.recipes.finetune_qa import default_configs
    return keys_help(default_configs(), "config keys (set with --key value; defaults are fine-tuning's):")


def run(args, extra: list[str]) -> None:
    from lmlab.cli.finetune import task_configs
    from lmlab.recipes.finetune_qa import finetune_qa
    from lmlab.runs.directory import restore_on_failure

    flags = {"max_len": args.max_len, "stride": args.stride, "max_answer_len": args.max_answer_len,
             "unanswerable": "true" if args.unanswerable else None}
    cfgs = task_configs("finetune_qa", extra, flags)
    with restore_on_failure(args.out, resume=False, overwrite=args.overwrite):
        res = finetune_qa(args.model, args.data, cfgs["data"], cfgs["train"], args.out, eval_data=args.eval,
                          overwrite=args.overwrite, quiet=args.quiet, skip_bad=args.skip_bad)
    print(f"run saved in {args.out}; exact match {res['exact_match']:.1f}, F1 {res['f1']:.1f} on {res['n_eval']} "
          f"questions ({res['eval']}); predictions.json and results.json written")


def add_parser(ftsub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The parser of `lmlab finetune qa` (a sub-command of `finetune`)."""
    p = ftsub.add_parser(
        "qa", formatter_class=fmt,
        help="extractive question answering: a start/end head on a pretrained BERT (SQuAD-format JSON)",
        description="Fine-tune a BERT to answer questions by pointing at a span of a context (SQuAD): a linear "
                    "head scores each token as the answer's start and as its end. Each question is read with "
                    "its context as [CLS] question [SEP] context [SEP]; a context longer than --max-len is read "
                    "in sliding windows every --stride tokens, and the best span over the windows wins. The data "
                    "is a SQuAD v1.1 JSON file (v2.0's unanswerable questions with --unanswerable); every answer "
                    "must stand at its answer_start. Writes config.json, model.safetensors, tokenizer.json, "
                    "metrics.jsonl, loss.png, then predictions.json and results.json: SQuAD's exact match and "
                    "F1 (the official script's normalisation) on --eval, or on held-out articles.",
        epilog=lambda: _keys_help() + "\n\n" + EXAMPLES)
    p.add_argument("--model", required=True, help="an lmlab BERT run (`lmlab train bert`) or a Hugging Face BERT "
                                                   "folder")
    p.add_argument("--data", required=True, help="a SQuAD-format .json file of training questions")
    p.add_argument("--eval", help="a SQuAD-format .json file to evaluate on (default: hold out --val_fraction of "
                                  "the training articles)")
    p.add_argument("--max-len", type=int, help="tokens per window, question and [CLS]/[SEP] included (default 192)")
    p.add_argument("--stride", type=int, help="step between window starts in context tokens, as BERT's doc_stride "
                                              "(default: half the window's context); Hugging Face tokenizers' "
                                              "stride is the overlap instead, the window's context minus this")
    p.add_argument("--max-answer-len", type=int, help="the longest answer considered, in tokens (default 30)")
    p.add_argument("--unanswerable", action="store_true", help="SQuAD v2.0: keep questions without an answer; "
                                                               "the model may answer nothing")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    skip_bad_flag(p)
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
