"""Knowledge distillation into a shallower student: `lmlab distill`."""

from __future__ import annotations

import argparse
from pathlib import Path

from lmlab.cli._common import (
    data_source,
    keys_help,
    parse_overrides,
    route,
    run_flags,
    skip_bad_flag,
)
from lmlab.errors import LmlabError

DISTILL_EXAMPLES = """\
examples:
  lmlab train gpt --data tinyshakespeare --config shakespeare-char --n_layers 6 --out runs/teacher
  lmlab distill --teacher runs/teacher --out runs/student        # teacher layers 0,2,4; T 2; weights 5:2:1
  lmlab distill --teacher runs/teacher --layers 0,3,5 --temperature 4 --alpha-cos 0 --out runs/student-035
  lmlab distill --teacher runs/teacher --init random --out runs/kd-only   # the losses without the layer copy
  lmlab distill --teacher runs/bert --max_steps 4000 --lr 5e-4 --out runs/distilbert
  lmlab distill --out runs/student --resume --max_steps 6000
"""


def _distill_keys_help() -> str:
    from lmlab.train.config import TrainConfig
    return keys_help({"train": TrainConfig()}, "training keys (--key value; each defaults to the teacher run's own "
                                               "setting, else to the value below):")


def cmd_distill(args, extra: list[str]) -> None:
    from lmlab.config import replace
    from lmlab.distill import DistillConfig
    from lmlab.recipes.distill import distill, teacher_train_config
    from lmlab.runs.directory import check_run_dir, restore_on_failure
    from lmlab.train.config import TrainConfig

    values = parse_overrides(extra)
    flags = {"layers": args.layers, "temperature": args.temperature, "alpha_kl": args.alpha_kl,
             "alpha_ce": args.alpha_ce, "alpha_cos": args.alpha_cos, "init": args.init}
    values.update({k: str(v) for k, v in flags.items() if v is not None})
    if args.time_budget is not None:
        values["time_budget"] = str(args.time_budget)
    routed = route(values, {"distill": DistillConfig, "train": TrainConfig})
    if args.resume:
        check_run_dir(args.out, resume=True, overwrite=args.overwrite)
        if routed["distill"] or args.teacher or args.data:
            raise LmlabError("a resumed distillation keeps its teacher, corpus and distillation settings; only "
                             f"training keys may change (got {', '.join(routed['distill']) or '--teacher/--data'})")
        from lmlab.config import config_from_dict
        from lmlab.io.checkpoint import load_config
        meta = load_config(args.out, required=("train", "distill"))
        train_cfg = replace(config_from_dict(TrainConfig, meta["train"]), routed["train"])
        cfg = teacher = None  # distill() reads them from the run
    else:
        if not args.teacher:
            raise LmlabError("--teacher is required: the run to distil (a `lmlab train gpt|bert` run)")
        if not Path(args.teacher).is_dir():
            raise LmlabError(f"teacher run {args.teacher} does not exist")
        train_cfg = replace(teacher_train_config(args.teacher), routed["train"])
        cfg, teacher = replace(DistillConfig(), routed["distill"]), args.teacher
    data = data_source(args.data) if args.data else None
    with restore_on_failure(args.out, resume=args.resume, overwrite=args.overwrite):
        final = distill(teacher, args.out, cfg, train_cfg, data=data, resume=args.resume,
                        overwrite=args.overwrite, quiet=args.quiet, skip_bad=args.skip_bad)
    print(f"run saved in {args.out}; val_loss {final['val_loss']:.4f} (teacher {final['teacher_val_loss']:.4f}), "
          f"val_kl {final['val_kl']:.4f}, val_cos {final['val_cos']:.4f}")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `distill` command's parser."""
    di = sub.add_parser(
        "distill", formatter_class=fmt,
        help="train a shallower student of a GPT or BERT run on its soft labels (knowledge distillation)",
        description="Knowledge distillation (Hinton et al. 2015; DistilBERT, Sanh et al. 2019). The student is the\n"
                    "teacher's model with fewer layers: by default a copy of every other teacher layer, with\n"
                    "the teacher's embeddings and heads. It trains on the teacher's corpus, tokenizer and\n"
                    "data settings with the triple loss\n"
                    "    alpha_kl * T^2 * KL(softmax(teacher/T) || softmax(student/T))   soft labels\n"
                    "  + alpha_ce  * cross-entropy with the true tokens                    hard labels\n"
                    "  + alpha_cos * (1 - cos(student hidden, teacher hidden))             last hidden states\n"
                    "(scored on the masked tokens for BERT, every next token for GPT). The soft labels carry\n"
                    "what the hard ones cannot: which wrong answers are nearly right. T > 1 flattens them so\n"
                    "the small probabilities count; T^2 keeps the gradient's size the same for every T.\n"
                    "The teacher is frozen and not saved. OUT is an ordinary run of the teacher's family\n"
                    "(generate, embed, finetune, hf export), and metrics.jsonl logs val_loss (the student's\n"
                    "hard-label loss, comparable with the teacher's), val_kl, val_ce, val_cos and\n"
                    "val_distill_loss. Training keys (--max_steps, --lr, …) default to the teacher's own.",
        epilog=lambda: _distill_keys_help() + "\n\n" + DISTILL_EXAMPLES)
    di.add_argument("--teacher", metavar="RUN", help="the run to distil: a GPT or BERT run directory")
    di.add_argument("--out", required=True, help="the student's run directory (or the run to continue with --resume)")
    di.add_argument("--layers", help="teacher layers the student keeps, in order: every-other (default: 0,2,4,… "
                                     "as DistilBERT) or a list like 0,2,4 (DistilBERT's release: 0,2,4,7,9,11)")
    di.add_argument("--temperature", type=float, help="T of the soft labels (default 2; 1 = the plain softmax)")
    di.add_argument("--alpha-kl", type=float, help="weight of the soft-label loss T^2 * KL (default 5)")
    di.add_argument("--alpha-ce", type=float, help="weight of the hard-label cross-entropy (default 2)")
    di.add_argument("--alpha-cos", type=float, help="weight of the hidden-state cosine loss (default 1; it "
                                                    "needs the teacher's width, which a student keeps)")
    di.add_argument("--init", choices=("teacher", "random"),
                    help="teacher (default): copy the chosen layers, embeddings and heads; random: fresh weights "
                         "of the same shape, to see what the copy is worth")
    di.add_argument("--data", help="train on this corpus instead of the teacher's (needed for a teacher made by "
                                   "`lmlab hf import`); it must suit the teacher's tokenizer")
    run_flags(di, resume_help="continue the run in --out (its teacher, corpus and settings come from its "
                               "config.json)")
    skip_bad_flag(di)


def run(args, extra: list[str]) -> None:
    cmd_distill(args, extra)
