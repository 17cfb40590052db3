"""Move models between lmlab run directories and Hugging Face folders (the CLI's `lmlab hf`).

A GPT-2 or Llama folder becomes a "gpt" run (a Llama is an lmlab GPT with other switches); a BERT
folder becomes a "bert" run holding a BertForPreTraining, as `lmlab train bert` makes, so that
`lmlab finetune classify` and `lmlab embed` take either. A BERT's tokenizer may be a vocab.txt: the
run gets the equivalent tokenizer.json, and an exported BERT gets both files.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

from lmlab import __version__
from lmlab.config import to_dict
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import load_config, save_config, save_weights
from lmlab.io.hf import load_hf, save_hf
from lmlab.io.hf_bert import load_hf_bert
from lmlab.io.hf_folder import read_hf_config
from lmlab.recipes.pretrain_bert import load_bert_run
from lmlab.recipes.pretrain_gpt import load_plain_gpt
from lmlab.recipes.run_dir import prepare_run_dir

TOKENIZER = "tokenizer.json"


def import_hf(hf_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """A run directory (config.json, model.safetensors, tokenizer.json if the folder has one) from an HF folder."""
    hf_dir = Path(hf_dir)
    if not hf_dir.is_dir():
        raise LmlabError(f"{hf_dir} is not a folder; give a Hugging Face GPT-2 or Llama folder "
                         "(config.json + model.safetensors)")
    if read_hf_config(hf_dir).get("model_type") == "bert":
        return _import_hf_bert(hf_dir, out, overwrite)
    model = load_hf(hf_dir)
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    save_config(run_dir, {"lmlab_version": __version__, "family": "gpt", "source": f"hf:{hf_dir}",
                          "model": to_dict(model.cfg)})
    save_weights(run_dir, model, step=0)
    if (hf_dir / TOKENIZER).is_file():
        shutil.copyfile(hf_dir / TOKENIZER, run_dir / TOKENIZER)
    return run_dir


def _hf_lowercase(hf_dir: Path) -> bool:
    """do_lower_case from tokenizer_config.json (an uncased BERT when absent, as bert-base-uncased)."""
    try:
        return bool(json.loads((hf_dir / "tokenizer_config.json").read_text(encoding="utf-8")).get("do_lower_case", True))
    except (OSError, ValueError):
        return True


def _import_hf_bert(hf_dir: Path, out: str | Path, overwrite: bool) -> Path:
    """A "bert" run (BertForPreTraining: heads the folder lacks start fresh, with a warning) and its tokenizer."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_hf_bert(hf_dir, head="pretraining")
    fresh = [str(w.message) for w in caught]
    tokenizer = None
    for name in (TOKENIZER, "vocab.txt"):
        if (hf_dir / name).is_file():
            tokenizer = TextTokenizer.load(hf_dir / name, model_vocab_size=model.cfg.vocab_size,
                                           lowercase=_hf_lowercase(hf_dir))
            break
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    save_config(run_dir, {"lmlab_version": __version__, "family": "bert", "source": f"hf:{hf_dir}",
                          "model": to_dict(model.cfg)})
    save_weights(run_dir, model, step=0)
    if tokenizer is not None:
        tokenizer.save(run_dir / TOKENIZER)
    for message in fresh:
        print(f"note: {message}")
    return run_dir


def export_hf(run: str | Path, out: str | Path, overwrite: bool = False) -> tuple[Path, str]:
    """An HF GPT-2, Llama or BERT folder (config.json, model.safetensors, tokenizer.json if the run has one)
    from an lmlab run; returns the folder and the model_type written ("gpt2", "llama" or "bert"). A LoRA or
    QLoRA run is exported merged (its NF4 base dequantised): the plain model that computes what the run does."""
    run = Path(run)
    family = load_config(run, required=("family",))["family"]
    model = load_bert_run(run) if family == "bert" else load_plain_gpt(run)[0]
    model_type = save_hf(model, out, overwrite=overwrite)
    if (run / TOKENIZER).is_file():
        shutil.copyfile(run / TOKENIZER, Path(out) / TOKENIZER)
        if family == "bert":  # BertTokenizer reads vocab.txt
            TextTokenizer.load(run / TOKENIZER).save_vocab_txt(Path(out) / "vocab.txt")
    return Path(out), model_type
