"""Move GPTs between lmlab run directories and Hugging Face GPT-2 or Llama folders (the CLI's `lmlab hf`).

A Llama is an lmlab GPT with other switches, so either kind of folder becomes a "gpt" run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lmlab import __version__
from lmlab.config import to_dict
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import load_weights, save_config, save_weights
from lmlab.io.hf import load_hf, save_hf
from lmlab.models.gpt.model import GPT
from lmlab.recipes.pretrain_gpt import load_run_configs
from lmlab.recipes.run_dir import prepare_run_dir

TOKENIZER = "tokenizer.json"


def import_hf(hf_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """A run directory (config.json, model.safetensors, tokenizer.json if the folder has one) from an HF folder."""
    hf_dir = Path(hf_dir)
    if not hf_dir.is_dir():
        raise LmlabError(f"{hf_dir} is not a folder; give a Hugging Face GPT-2 or Llama folder "
                         "(config.json + model.safetensors)")
    model = load_hf(hf_dir)
    if not isinstance(model, GPT):  # e.g. BERT: lmlab has no BERT run directories yet
        raise LmlabError(f"{hf_dir} holds a {type(model).__name__}; `lmlab hf import` makes GPT runs from "
                         "GPT-2 and Llama folders (load BERT folders in Python with lmlab.io.hf_bert.load_hf_bert)")
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    save_config(run_dir, {"lmlab_version": __version__, "family": "gpt", "source": f"hf:{hf_dir}",
                          "model": to_dict(model.cfg)})
    save_weights(run_dir, model, step=0)
    if (hf_dir / TOKENIZER).is_file():
        shutil.copyfile(hf_dir / TOKENIZER, run_dir / TOKENIZER)
    return run_dir


def export_hf(run: str | Path, out: str | Path, overwrite: bool = False) -> tuple[Path, str]:
    """An HF GPT-2 or Llama folder (config.json, model.safetensors, tokenizer.json if the run has one)
    from an lmlab run; returns the folder and the model_type written ("gpt2" or "llama")."""
    run = Path(run)
    model = GPT(load_run_configs(run)[1]["model"])
    load_weights(run, model)
    model_type = save_hf(model, out, overwrite=overwrite)
    if (run / TOKENIZER).is_file():
        shutil.copyfile(run / TOKENIZER, Path(out) / TOKENIZER)
    return Path(out), model_type
