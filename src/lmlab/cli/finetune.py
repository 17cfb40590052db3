"""`lmlab finetune TASK`: fine-tune a pretrained model for a task; one module per task (cli/finetune_TASK.py)."""

from __future__ import annotations

import argparse
import importlib

from lmlab.errors import LmlabError

TASKS = ("classify", "ner", "qa")  # task -> lmlab.cli.finetune_<task>, each with add_parser(subparsers) and run(args, extra)


def task_configs(recipe: str, extra: list[str], flags: dict) -> dict:
    """A task's config sections: its recipe's fine-tuning defaults (lmlab.recipes.<recipe>), then the task's own
    flags that were given, then `--key value` config keys."""
    from lmlab.cli._common import parse_overrides, route
    from lmlab.config import replace
    module = importlib.import_module(f"lmlab.recipes.{recipe}")
    values = parse_overrides(extra)
    values.update({k: str(v) for k, v in flags.items() if v is not None})
    routed = route(values, module.config_classes())
    return {name: replace(cfg, routed[name]) for name, cfg in module.default_configs().items()}


def _task(name: str):
    return importlib.import_module(f"lmlab.cli.finetune_{name}")


def add_parser(sub) -> None:
    ft = sub.add_parser("finetune", help=f"fine-tune a pretrained model for a task ({', '.join(TASKS)})",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Fine-tune a pretrained model for a task; `lmlab finetune TASK --help` for "
                                    "the task's options.")
    tasks = ft.add_subparsers(dest="task", metavar="TASK")
    for name in TASKS:
        _task(name).add_parser(tasks)


def run(args, extra: list[str]) -> None:
    if args.task is None:
        raise LmlabError(f"say what to fine-tune for: `lmlab finetune {TASKS[0]} …` (the tasks: {', '.join(TASKS)}; "
                         "see `lmlab finetune --help`)")
    _task(args.task).run(args, extra)
