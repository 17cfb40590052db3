"""`lmlab <command>`: one module per command group, each a thin mapping of flags onto a recipe or a tool.

Each module has `add_parser(subparsers)` and `run(args)` (`run(args, extra)` where `--key value` config
keys follow). Building the parser imports no torch: the modules import what they run inside `run`.
Errors in the user's input raise LmlabError and are printed as one line (exit 2); a traceback is shown
only with --debug.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from lmlab.cli._common import Parser
from lmlab.errors import LmlabError

EXAMPLES = """\
examples:
  lmlab data list
  lmlab train gpt --data tinyshakespeare --config shakespeare-char --time-budget 120 --out runs/shakespeare
  lmlab generate runs/shakespeare --prompt "ROMEO:" --max-new-tokens 300
  lmlab train bert --data tinyshakespeare --preset bert-mini --out runs/bert
  lmlab embed runs/bert "To be, or not to be." --normalize
  lmlab info --preset gpt2-small
"""

# command -> module; the order is the order of `lmlab --help`
COMMANDS = ("train", "finetune", "generate", "translate", "classify", "info", "memory", "hf", "convert", "quantize", "data",
            "explain", "keywords", "tokenizer", "embed", "fill-mask", "tag", "answer", "distill", "lora",
            "similar", "analogy", "vectors")
TAKES_CONFIG_KEYS = ("train", "finetune", "distill")  # commands whose unknown --key value flags are config keys


def _module(command: str):
    return importlib.import_module(f"lmlab.cli.{command.replace('-', '_')}")  # fill-mask: cli/fill_mask.py


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = Parser(prog="lmlab", formatter_class=fmt, epilog=EXAMPLES,
               description="Build, pretrain, fine-tune and sample Transformer-era models.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        _module(command).add_parser(sub)
    return p


def _terminated(signum, frame):
    """SIGTERM outside training (which saves a checkpoint first) unwinds like Ctrl-C: a half-made run is undone."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    debug = "--debug" in argv
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command in TAKES_CONFIG_KEYS:
            _module(args.command).run(args, extra)
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        else:
            _module(args.command).run(args)
        return 0
    except LmlabError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the disk, the filesystem, permissions: the cause and the file, in one line
        if debug:
            raise
        print(f"error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return 2
    except Exception as e:  # a bug, or an input we failed to check: still no traceback unless --debug
        if debug:
            raise
        print(f"error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1
