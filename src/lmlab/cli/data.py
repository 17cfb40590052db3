"""The bundled corpora: `lmlab data list`."""

from __future__ import annotations

import argparse

from lmlab.cli._common import (
    bytes_,
)
from lmlab.errors import LmlabError


def cmd_data_list(args) -> None:
    from lmlab.data.corpora import BUNDLED, bundled_path
    print(f"{'name':<16} {'size':>9}  {'chars':>10}  description")
    for name, c in BUNDLED.items():
        path = bundled_path(name)
        text = path.read_text(encoding="utf-8")
        print(f"{name:<16} {bytes_(path.stat().st_size):>9}  {len(text):>10,}  {c.description}")
        print(f"{'':<16} {'':>9}  {'':>10}  source: {c.provenance}")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `data` command's parser."""
    data = sub.add_parser("data", help="bundled corpora", description="Corpora that ship with lmlab.")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")
    dl = dsub.add_parser("list", help="list the bundled corpora with sizes and provenance")
    dl.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    if args.data_command != "list":
        raise LmlabError("`lmlab data list` is the data command")
    cmd_data_list(args)
