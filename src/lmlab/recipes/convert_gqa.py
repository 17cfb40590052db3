"""`lmlab convert gqa`: a GQA/MQA copy of a multi-head GPT run, and what it costs in validation loss."""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
from pathlib import Path

import torch

from lmlab import __version__
from lmlab.config import to_dict
from lmlab.data.corpora import BUNDLED, load_text
from lmlab.data.lm import eval_batches, split_tokens
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import save_config, save_weights
from lmlab.models.gpt import GPT
from lmlab.nn.gqa import pool_kv_heads_
from lmlab.recipes.pretrain_gpt import load_run_configs, load_run_model
from lmlab.recipes.run_dir import prepare_run_dir
from lmlab.train.objectives import causal_lm


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


@torch.no_grad()
def val_loss(model: GPT, run_dir: Path, n_batches: int = 20, batch_size: int = 8) -> float | None:
    """Mean validation loss on the run's own corpus and split, or None if the run has no corpus."""
    meta, cfgs = load_run_configs(run_dir, ("model",))
    source = meta.get("source", "")
    data_cfg = meta.get("data") or {}
    if source not in BUNDLED and not Path(source).exists():
        return None
    from lmlab.data.tokenizers import TextTokenizer
    tok = TextTokenizer.load(run_dir / "tokenizer.json")
    ids = torch.tensor(tok.encode(load_text(source)), dtype=torch.int32)
    _, val = split_tokens(ids, data_cfg.get("val_fraction", 0.1))
    model.eval()
    losses = [causal_lm(model, b)["loss"].item()
              for b in eval_batches(val, model.cfg.max_seq_len, batch_size, n_batches, seed=0)]
    return sum(losses) / len(losses)


def convert_gqa(run: str | Path, n_kv_heads: int, out: str | Path, overwrite: bool = False) -> dict:
    """Write the converted run to `out`; return the validation losses before and after."""
    run = Path(run)
    model, _, meta = load_run_model(run)
    before = val_loss(model, run)
    new = to_gqa(model, n_kv_heads)
    after = val_loss(new, run)
    out = prepare_run_dir(out, resume=False, overwrite=overwrite)
    save_config(out, {"lmlab_version": __version__, "family": "gpt", "source": meta.get("source", ""),
                      "converted_from": str(run), "model": to_dict(new.cfg),
                      **({"data": meta["data"]} if "data" in meta else {})})
    save_weights(out, new, step=0)
    shutil.copyfile(run / "tokenizer.json", out / "tokenizer.json")
    return {"val_loss_mha": before, "val_loss_gqa": after,
            "ppl_mha": math.exp(before) if before is not None else None,
            "ppl_gqa": math.exp(after) if after is not None else None}
