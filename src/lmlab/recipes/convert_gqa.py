"""`lmlab convert gqa`: a GQA/MQA copy of a multi-head GPT run, and what it costs in validation loss."""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
from pathlib import Path

from lmlab.errors import LmlabError
from lmlab.io.checkpoint import save_weights
from lmlab.models.gpt import GPT
from lmlab.nn.gqa import pool_kv_heads_
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.evaluate import lm_val_loss
from lmlab.runs.run import Run, write_run_config


def to_gqa(model: GPT, n_kv_heads: int) -> GPT:
    """A new GPT with every layer's key/value heads mean-pooled down to n_kv_heads."""
    cfg = model.cfg
    if cfg.kv_heads != cfg.n_heads:
        raise LmlabError(f"the model already uses {cfg.kv_heads} kv heads; convert a multi-head model")
    if n_kv_heads < 1 or cfg.n_heads % n_kv_heads:
        raise LmlabError(f"--n-kv-heads {n_kv_heads} must divide n_heads ({cfg.n_heads})")
    pooled = copy.deepcopy(model)
    for block in pooled.blocks:
        pool_kv_heads_(block.attn, n_kv_heads)
    new = GPT(dataclasses.replace(cfg, n_kv_heads=n_kv_heads))
    new.load_state_dict(pooled.state_dict())
    return new


def convert_gqa(run: str | Path, n_kv_heads: int, out: str | Path, overwrite: bool = False) -> dict:
    """Write the converted run to `out`; return the validation losses before and after."""
    run = Run.open(run, command="convert")
    model = run.model()
    before = lm_val_loss(model, run)
    new = to_gqa(model, n_kv_heads)
    after = lm_val_loss(new, run)
    out = prepare_run_dir(out, resume=False, overwrite=overwrite)
    write_run_config(out, run.name, {"model": new.cfg, **run.configs("data")} if "data" in run.meta
                     else {"model": new.cfg}, source=run.source, converted_from=str(run.path))
    save_weights(out, new, step=0)
    shutil.copyfile(run.path / "tokenizer.json", out / "tokenizer.json")
    return {"val_loss_mha": before, "val_loss_gqa": after,
            "ppl_mha": math.exp(before) if before is not None else None,
            "ppl_gqa": math.exp(after) if after is not None else None}
