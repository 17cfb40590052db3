"""`lmlab train FAMILY`: train a registered family from scratch, or resume a run; one code path for all."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lmlab.cli._common import (
    LORA_HELP,
    NF4_HELP,
    data_source,
    keys_help,
    lora_config,
    nf4_config,
    resumed_train_config,
    run_flags,
    settings,
    skip_bad_flag,
)
from lmlab.errors import LmlabError
from lmlab.runs import families

OPTIONS = {  # the optional flags a family may take (Family.train_options), with their help
    "init": ("--init", dict(metavar="RUN", help="continue pretraining the model of this run (e.g. one made by `lmlab hf "
                                                "import`; `train bert` also takes a Hugging Face BERT folder): its "
                                                "weights, shape and tokenizer, so no --preset, model keys or "
                                                "--tokenizer; data and training keys may change")),
    "tokenizer": ("--tokenizer", dict(metavar="FILE", help="use this WordPiece tokenizer.json or BERT vocab.txt "
                                                           "instead of training one on the corpus (it sets the "
                                                           "vocabulary size; tokenizer_vocab_size is then ignored)")),
    "lora": ("--lora", dict(metavar="SPEC", help=LORA_HELP)),
    "nf4": ("--nf4", dict(action="store_true", help=NF4_HELP)),
}


def family_keys_help(family: families.Family) -> str:
    """Every config key of the family with its effective default (the default preset's model, the family's
    training defaults)."""
    defaults = family.default_configs()
    if family.default_preset:
        defaults["model"] = family.preset(family.default_preset)
    return f"presets: {', '.join(family.preset_names())}\n\n" + keys_help(
        defaults, "config keys (set with --key value, or in a JSON --config file; model keys default to the "
                  f"{family.default_preset} preset's):")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `train` command's parser: one sub-command per trainable family of the registry."""
    names = [f.name for f in families.trainable()]
    train = sub.add_parser("train", help="train a model from scratch or resume a run",
                           description=f"Train a model; `lmlab train {'|'.join(names)} --help` for the options.")
    tsub = train.add_subparsers(dest="family", metavar="FAMILY")
    for family in families.trainable():
        p = tsub.add_parser(family.name, formatter_class=fmt, help=family.summary,
                            description=family.about + " Any config key below can be set with --key value.",
                            epilog=lambda f=family: family_keys_help(f) + "\n\n" + f.examples)
        p.add_argument("--data", help=family.data_help)
        p.add_argument("--preset", help=f"model size (default: {family.default_preset}; the presets are listed "
                                        "below)")
        p.add_argument("--config", help="a bundled recipe (e.g. shakespeare-char) or a JSON file of config keys "
                                        "(flat, or in model/train/data sections); --key value flags override it")
        p.add_argument("--out", required=True, help="run directory to create (or continue with --resume)")
        run_flags(p)
        skip_bad_flag(p)
        for option in family.train_options:
            if option in OPTIONS:
                flag, kw = OPTIONS[option]
                p.add_argument(flag, **kw)


def _options(family: families.Family, args) -> dict:
    """The family's optional settings from the flags: LoRA and QLoRA, an init run, a given tokenizer."""
    kw: dict = {"skip_bad": args.skip_bad}
    if "lora" in family.train_options:
        kw["lora"] = lora_config(args.lora)
        kw["nf4"] = nf4_config(args.nf4, kw["lora"])
    if "tokenizer" in family.train_options:
        kw["tokenizer"] = args.tokenizer
    if "init" in family.train_options:
        kw["init"] = str(Path(args.init).resolve()) if args.init and not args.resume else None
    return kw


def run(args, extra: list[str]) -> None:
    from lmlab.config import replace
    from lmlab.recipes.configs import bundled_config
    from lmlab.runs.directory import restore_on_failure
    from lmlab.runs.run import Run

    if args.family is None:
        names = "|".join(f.name for f in families.trainable())
        raise LmlabError(f"say which model to train: `lmlab train {names} …` (see `lmlab train --help`)")
    family = families.get(args.family, "train")
    routed = settings(args, extra, family.config_classes(), bundled_config(args.config) if args.config else None)
    given = {f"--{o}": getattr(args, o) for o in family.train_options if o in OPTIONS}
    if args.resume:  # the run's own model, data and adapters; only training keys may change
        train_cfg = resumed_train_config(args, routed, lambda out: Run.open(out, family=family.name).config("train"),
                                         **{k.lstrip("-"): v for k, v in given.items()})
        model_cfg = data_cfg = data = None
    else:
        if not args.data:
            raise LmlabError(f"--data is required: {family.data_help}")
        if getattr(args, "init", None):
            if routed["model"] or args.preset:
                raise LmlabError("--init takes the model (shape and weights) from its run; drop --preset and "
                                 f"model keys ({', '.join('--' + k for k in routed['model']) or '--preset'})")
            if getattr(args, "tokenizer", None):
                raise LmlabError("--init brings its own tokenizer (its vocabulary is the model's); drop --tokenizer")
            _init_model_config(family, args.init)  # a clear error before anything starts
        defaults = family.default_configs()
        model_cfg = replace(family.preset(args.preset or family.default_preset), routed["model"])
        train_cfg = replace(defaults["train"], routed["train"])
        data_cfg = replace(defaults["data"], routed["data"])
        data = data_source(args.data)
    _preflight(family, args, model_cfg, train_cfg)
    recipe = families.resolve(family.train)
    with restore_on_failure(args.out, resume=args.resume, overwrite=args.overwrite):
        final = recipe(data, model_cfg, train_cfg, data_cfg, args.out, resume=args.resume, overwrite=args.overwrite,
                       quiet=args.quiet, **_options(family, args))
    if os.environ.get("RANK", "0") == "0":
        shown = ", ".join(f"{k} {v:.4g}" for k, v in (final or {}).items()
                          if k.startswith("val_") and k != "val_ppl" and isinstance(v, float))
        hint = family.next_step.format(out=_quoted(args.out))
        print(f"run saved in {args.out}" + (f"; {shown}" if shown else "") + (f"; {hint}" if hint else ""))


def _preflight(family: families.Family, args, model_cfg, train_cfg) -> None:
    """Refuse a step that cannot fit in memory, announce one that takes minutes: before any data is read."""
    import sys

    from lmlab.runs.run import Run
    from lmlab.tools.preflight import preflight
    from lmlab.train.trainer import resolve_device

    if args.resume:
        run = Run.open(args.out, family=family.name)
        model_cfg, lora, qlora = run.config("model"), run.lora, run.nf4 is not None
    else:
        if getattr(args, "init", None):  # the --init run's shape
            model_cfg = _init_model_config(family, args.init)
        lora = lora_config(args.lora) if "lora" in family.train_options else None
        qlora = bool(getattr(args, "nf4", False))
    warning = preflight(family, model_cfg, train_cfg, resolve_device(getattr(train_cfg, "device", "auto")),
                        lora_rank=lora.r if lora else None, qlora=qlora)
    if warning and os.environ.get("RANK", "0") == "0":
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def _init_model_config(family: families.Family, path: str):
    """The model config of an --init source (the family's own reader, else a run of the family), refused early
    if it cannot be one."""
    from lmlab.runs.run import Run
    if family.init_config:
        return families.resolve(family.init_config)(path)
    return Run.open(path, family=family.name).config("model")


def _quoted(path: str) -> str:
    """A path as a shell would need it in a hint to copy (quoted when it has spaces or quotes)."""
    import shlex
    return shlex.quote(str(path))
