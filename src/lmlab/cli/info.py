"""Settings and parameter counts of a run or a preset: `lmlab info`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from lmlab.cli._common import (
    bytes_,
    human,
)
from lmlab.errors import LmlabError


def _info_seq2seq(name: str) -> None:
    """Settings and parameter count of an encoder-decoder preset, beside the paper's figure."""
    from lmlab.models.seq2seq import PUBLISHED, count_parameters, preset
    cfg = preset(name)
    n = count_parameters(cfg)
    print(f"encoder-decoder Transformer preset {name}")
    for f in dataclasses.fields(cfg):
        print(f"  {f.name:<17} {getattr(cfg, f.name)}")
    print(f"parameters        {n:,} ({human(n)}); embeddings {cfg.vocab_size * cfg.d_model:,} (shared)"
          + (f"; the paper: {human(PUBLISHED[name])}" if name in PUBLISHED else ""))


def _info_family(family, cfg, title: str, published: int | None) -> None:
    """Settings and parameter count of a model config of any family with a count function (cnn, …)."""
    n = families_count(family, cfg)
    print(f"{family.name} {title}")
    for f in dataclasses.fields(cfg):
        print(f"  {f.name:<15} {getattr(cfg, f.name)}")
    print(f"parameters      {n:,} ({human(n)})" + (f"; published {published:,}" if published else ""))
    print(f"weights         {bytes_(4 * n)} fp32, {bytes_(2 * n)} bf16")


def families_count(family, cfg) -> int:
    from lmlab.runs.families import resolve
    return resolve(family.count)(cfg)


def _other_family(args):
    """(family, model config, title, published count) when the preset or run is of a family other than gpt
    (seq2seq has its own page), else None."""
    from lmlab.runs import families
    if args.preset:
        for family in families.FAMILIES.values():
            if family.name != "gpt" and family.count and "info" in family.commands and \
                    args.preset in family.preset_names():
                published = getattr(families.resolve(family.presets.partition(":")[0]), "PUBLISHED", {})
                return family, family.preset(args.preset), f"preset {args.preset}", published.get(args.preset)
        return None
    from lmlab.runs.run import Run
    run = Run.open(args.run)
    if run.name == "gpt" or not run.family.count:
        return None
    return run.family, run.config("model"), f"run {args.run}", None


def cmd_info(args) -> None:
    from lmlab.models.gpt import preset
    from lmlab.models.gpt.presets import PUBLISHED, count_parameters

    if bool(args.run) == bool(args.preset):
        raise LmlabError("give either a run directory or --preset NAME")
    if args.preset and args.preset.startswith("transformer-"):
        _info_seq2seq(args.preset)
        return
    if args.preset not in PUBLISHED and (other := _other_family(args)):
        _info_family(*other)
        return
    if args.preset:
        cfg, title = preset(args.preset), f"preset {args.preset}"
    else:
        from lmlab.runs.run import Run
        cfg, title = Run.open(args.run, family="gpt").config("model"), f"run {args.run}"
    n = count_parameters(cfg)
    emb = cfg.vocab_size * cfg.d_model + (cfg.max_seq_len * cfg.d_model if cfg.pos_embedding == "learned" else 0)
    print(f"GPT {title}")
    for f in dataclasses.fields(cfg):
        print(f"  {f.name:<15} {getattr(cfg, f.name)}")
    print(f"parameters      {n:,} ({human(n)})")
    print(f"  embeddings    {emb:,}   non-embedding {n - emb:,}")
    if args.preset in PUBLISHED:
        print(f"  published     {human(PUBLISHED[args.preset])}")
    print(f"weights         {bytes_(4 * n)} fp32, {bytes_(2 * n)} bf16")
    from lmlab.nn.kv_cache import kv_bytes_per_token
    per_tok = kv_bytes_per_token(cfg.n_layers, cfg.kv_heads, cfg.head_dim, bytes_per_value=2)
    print(f"KV cache        {bytes_(per_tok)} per token in bf16 ({bytes_(2 * per_tok)} fp32) = 2 (K,V) × "
          f"{cfg.n_layers} layers × {cfg.kv_heads} kv heads × {cfg.head_dim} dims; "
          f"{bytes_(per_tok * cfg.max_seq_len)} for one full {cfg.max_seq_len}-token context")
    if args.run:
        from lmlab.train.metrics import read_metrics
        rows = read_metrics(Path(args.run) / "metrics.jsonl")
        evals = [r for r in rows if "val_loss" in r]
        if rows:
            print(f"trained         {rows[-1]['step']} steps" +
                  (f", last val_loss {evals[-1]['val_loss']:.4f} (ppl {evals[-1]['val_ppl']:.2f})" if evals else ""))
        from lmlab.recipes.quantize import describe
        print("\n".join(describe(args.run)) or f"NF4             not quantised (`lmlab quantize nf4 {args.run}`)")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `info` command's parser."""
    from lmlab.runs.families import get
    PRESETS = get("gpt").preset_names()
    info = sub.add_parser("info", help="parameter counts and settings of a run or a preset",
                          description="Show a model's settings, parameter count and weight memory.")
    info.add_argument("run", nargs="?", help="run directory")
    info.add_argument("--preset", help=f"a preset name instead of a run: {', '.join(PRESETS)}; or an "
                                       "encoder-decoder one: transformer-base, transformer-big, transformer-small …; "
                                       "or a CNN's: alexnet, vgg16, resnet50 …")
    info.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_info(args)
