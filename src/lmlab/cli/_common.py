"""What every command shares: the parser class, config keys as flags, run flags, LoRA/NF4 specs, sizes."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

from lmlab.errors import LmlabError
from lmlab.units import binary_bytes, human  # noqa: F401  (human: re-exported for the commands)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error:` line like every other input error."""

    def parse_known_args(self, args=None, namespace=None):
        """Each option has one documented spelling (command options --with-dashes, config keys
        --with_underscores); the other spelling of a command option is accepted silently."""
        if args is not None:
            known = self._option_string_actions
            args = [_respell(a, known) for a in args]
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        if callable(self.epilog):  # computed when shown, so that building the parser imports little
            self.epilog = self.epilog()
        return super().format_help()

    def error(self, message: str) -> typing.NoReturn:
        raise LmlabError(f"{message}; see `{self.prog} --help`")


def parse_overrides(extra: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or arg == "--":
            raise LmlabError(f"unexpected argument '{arg}'; config keys are given as --key value")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise LmlabError(f"--{key} needs a value")
            value = extra[i + 1]
            i += 1
        out[key.replace("-", "_")] = value
        i += 1
    return out


def route(values: dict, classes: dict) -> dict[str, dict]:
    """Split flat {key: value} into {"model": {...}, "train": {...}, "data": {...}} by field name."""
    import difflib
    routed: dict[str, dict] = {name: {} for name in classes}
    owners = {f.name: name for name, cls in classes.items() for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key.startswith("_"):  # a comment in a config file ("_about": "...")
            continue
        if key in classes and isinstance(value, dict):  # nested config file section
            for k, v in value.items():
                routed[key][k] = v
            continue
        if key not in owners:
            close = difflib.get_close_matches(key, list(owners), n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            raise LmlabError(f"unknown config key '{key}'{hint}; the command's --help lists every key")
        routed[owners[key]][key] = value
    return routed


def keys_help(configs: dict, title: str = "config keys (set with --key value, or in a JSON --config file):") -> str:
    """Every key of the config sections {section: config instance (its values are the defaults shown) or
    class}, with its default and, for a key of fixed choices (a Literal type), the choices."""
    lines = [title]
    for section, cfg in configs.items():
        hints = typing.get_type_hints(cfg if isinstance(cfg, type) else type(cfg))
        lines.append(f"  [{section}]")
        for f in dataclasses.fields(cfg):
            default = f"default {getattr(cfg, f.name, f.default)!r}"
            choices = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is typing.Literal else ()
            line = f"    --{f.name:<18} {default}"
            lines.append(f"{line:<50} one of: {', '.join(choices)}" if choices else line)
    return "\n".join(lines)


def data_source(data: str) -> str:
    """A bundled corpus by name, a file or folder by absolute path: what a run records, so that --resume
    finds its corpus from any directory."""
    from lmlab.data.corpora import BUNDLED
    return data if data in BUNDLED or not Path(data).exists() else str(Path(data).resolve())


def settings(args, extra: list[str], classes: dict, config_file: str | None = None) -> dict[str, dict]:
    """A training command's config keys by section: the JSON --config file, then --key value flags,
    then --time-budget."""
    from lmlab.config import load_json
    values: dict = load_json(config_file) if config_file else {}
    values.update(parse_overrides(extra))
    if args.time_budget is not None:
        values["time_budget"] = str(args.time_budget)
    return route(values, classes)


def resumed_train_config(args, routed: dict[str, dict], run_train_config, **flags):
    """The TrainConfig a --resume continues with: the run's own, changed by the training keys given.
    Model and data keys, and flags that shape the model (--lora, --nf4, --init, …), are refused."""
    from lmlab.config import replace
    from lmlab.runs.directory import check_run_dir
    check_run_dir(args.out, resume=True, overwrite=args.overwrite)
    if routed["model"] or routed["data"]:
        raise LmlabError("a resumed run keeps its model, data and other settings; only training keys may change "
                         f"(got {', '.join([*routed['model'], *routed['data']])})")
    given = [f"--{name}" for name, value in flags.items() if value]
    if given:
        raise LmlabError(f"a resumed run keeps its {given[0]} settings; drop the flag")
    return replace(run_train_config(args.out), routed["train"])


LORA_HELP = ("train LoRA adapters only, on a frozen base (Hu et al. 2021). SPEC is key=value,…: r (rank, "
             "default 8), alpha (scale alpha/r, default 16), dropout (on the bypass, default 0), targets (presets "
             "qv, qkv, qkvo, ff, all-linear; or module names, globs, re:REGEX, which may name a token embedding, "
             "e.g. tok_emb; several: targets=q_proj,v_proj; default qkv), rslora (true: scale alpha/sqrt(r)), "
             "modules_to_save (modules trained in full). "
             "Example: --lora r=8,alpha=16,targets=qkv,ff. The adapters are also saved in peft's layout in "
             "OUT/adapter/; `lmlab lora merge` folds them into a plain run")


def lora_config(spec: str | None):
    """--lora SPEC -> LoRAConfig (None without the flag)."""
    if spec is None:
        return None
    from lmlab.peft.lora import parse_lora_spec
    return parse_lora_spec(spec)


NF4_HELP = ("QLoRA (Dettmers et al. 2023): with --lora, store the frozen base's linear layers (all but the output "
            "layers) in 4-bit NormalFloat, block 64 with double quantisation (4.127 bits a weight), dequantised a "
            "chunk at a time in forward and backward; only the adapters are in full precision. The checkpoint "
            "keeps the NF4 codes, not the float weights. Example: --lora r=8,alpha=16,targets=all-linear --nf4. "
            "(To quantise a trained run for sampling: `lmlab quantize nf4 RUN`.)")


SKIP_BAD_HELP = ("skip the data's bad rows and report how many, instead of stopping at the first with its "
                 "FILE:LINE. A row is bad when it cannot be read (not JSON, not an object, the wrong number of "
                 "fields, not UTF-8) or when a text or label it needs is missing, null, empty or not a string "
                 "(a number or a list is never taken as text)")


def skip_bad_flag(p: argparse.ArgumentParser) -> None:
    """--skip-bad, the one switch of lmlab.data.rows' rule, on every command that reads data."""
    p.add_argument("--skip-bad", action="store_true", help=SKIP_BAD_HELP)


def nf4_config(flag: bool, lora):
    """--nf4 -> NF4Config (QLoRA's defaults), only together with --lora."""
    if not flag:
        return None
    from lmlab.nn.nf4_linear import NF4Config
    from lmlab.runs.run import check_qlora
    check_qlora(lora, NF4Config())
    return NF4Config()


def bytes_(n: float) -> str:
    return binary_bytes(n)


def run_flags(p: argparse.ArgumentParser, resume_help: str = "continue the run in --out from its last "
               "checkpoint (training keys such as max_steps may change; model and data settings stay)") -> None:
    """The flags every training command shares: --resume, --overwrite, --time-budget, --quiet, --debug."""
    p.add_argument("--resume", action="store_true", help=resume_help)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run in --out (it is kept until the new run has started)")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop cleanly (final eval + checkpoint) after this much training time")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def _respell(arg: str, known: dict) -> str:
    """--max_new_tokens -> --max-new-tokens where only the dashed option exists (config keys, which are
    not options of the parser, keep their spelling and are routed by field name)."""
    if not arg.startswith("--") or "_" not in arg:
        return arg
    flag, eq, value = arg.partition("=")
    dashed = flag.replace("_", "-")
    if flag not in known and dashed in known:
        return dashed + eq + value
    return arg
