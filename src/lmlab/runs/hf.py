"""Runs from and to Hugging Face folders (`lmlab hf`), and a BERT encoder from either kind of folder.

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

from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.io.checkpoint import CONFIG_FILE, load_config, save_weights
from lmlab.io.hf import load_hf, read_hf_config, save_hf
from lmlab.io.hf_bert import load_hf_bert
from lmlab.runs import families
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import TOKENIZER, Run, write_run_config


def family_of(model_type: str) -> str:
    """The lmlab family a Hugging Face model_type imports as (the first registered that converts it)."""
    for family in families.FAMILIES.values():
        if model_type in family.hf:
            return family.name
    known = sorted({t for f in families.FAMILIES.values() for t in f.hf})
    raise LmlabError(f"lmlab converts Hugging Face model_type {', '.join(map(repr, known))}, not {model_type!r}")


def import_hf(hf_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """A run directory (config.json, model.safetensors, tokenizer.json if the folder has one) from an HF folder."""
    hf_dir = Path(hf_dir)
    if not hf_dir.is_dir():
        raise LmlabError(f"{hf_dir} is not a folder; give a Hugging Face GPT-2 or Llama folder "
                         "(config.json + model.safetensors)")
    if read_hf_config(hf_dir).get("model_type") == "bert":
        return _import_hf_bert(hf_dir, out, overwrite)
    model = load_hf(hf_dir)
    hf_cfg = read_hf_config(hf_dir)
    family = families.get(family_of(hf_cfg["model_type"]))
    labels = [hf_cfg["id2label"][str(i)] for i in range(len(hf_cfg["id2label"]))] \
        if "classify" in family.commands and hf_cfg.get("id2label") else None  # an image classifier's classes
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    write_run_config(run_dir, family.name, {"model": model.cfg},
                     source=f"hf:{hf_dir}", **({"labels": labels} if labels else {}))
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
    write_run_config(run_dir, family_of("bert"), {"model": model.cfg}, source=f"hf:{hf_dir}")
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
    run = Run.open(run)
    if not run.family.hf:
        able = [f.name for f in families.FAMILIES.values() if f.hf]
        raise LmlabError(f"{run.path} holds a '{run.name}' run, which has no Hugging Face counterpart lmlab "
                         f"writes; `lmlab hf export` takes {' and '.join(able)} runs")
    labels = run.meta.get("labels")
    model_type = save_hf(run.model(), out, overwrite=overwrite, labels=labels)
    if "data" in run.meta and hasattr(run.config("data"), "preprocessing") and run.meta["data"].get("input_size"):
        prep = run.config("data").preprocessing()  # an image run: how images are read, for AutoImageProcessor
        atomic_write_text(Path(out) / "preprocessor_config.json", json.dumps(prep.hf_processor(), indent=2) + "\n")
    if (run.path / TOKENIZER).is_file():
        shutil.copyfile(run.path / TOKENIZER, Path(out) / TOKENIZER)
        tok = TextTokenizer.load(run.path / TOKENIZER)
        if tok.kind == "wordpiece":  # BertTokenizer reads vocab.txt
            tok.save_vocab_txt(Path(out) / "vocab.txt")
    return Path(out), model_type


def load_bert_encoder(source: str | Path):
    """The pretrained encoder (BertModel, with its pooler) and tokenizer of an lmlab BERT run or a Hugging Face
    BERT folder (config.json + model.safetensors + tokenizer.json or vocab.txt)."""
    source = Path(source)
    meta = load_config(source, required=()) if (source / CONFIG_FILE).is_file() else None
    if meta is not None and meta.get("family") == "bert":
        encoder = Run(source, meta).model().bert
    elif meta is not None and meta.get("model_type") == "bert":
        encoder = load_hf_bert(source, head="base")
    else:
        raise LmlabError(f"{source} is neither an lmlab BERT run (`lmlab train bert`) nor a Hugging Face "
                         "BERT folder (config.json with model_type 'bert')")
    for name in (TOKENIZER, "vocab.txt"):
        if (source / name).is_file():
            return encoder, TextTokenizer.load(source / name, model_vocab_size=encoder.cfg.vocab_size)
    raise LmlabError(f"{source} has no tokenizer.json or vocab.txt")
