"""Models and runs from and to Hugging Face folders (`lmlab hf`), and a BERT encoder from either kind of folder.

The converters live in lmlab.io, one module per architecture (hf_gpt2, hf_llama, hf_bert, hf_resnet,
hf_vit); which one a folder or a model goes to is the family registry's answer (`Family.hf`: model_type ->
Converter), so a new Hugging Face architecture is one Converter in its family's registration.
`load_hf(path)` picks the converter by config.json's model_type, `save_hf(model, path)` by the model's
family, trying its converters in order (a GPT goes out as GPT-2 where GPT-2 computes it, else as Llama).

A GPT-2 or Llama folder becomes a "gpt" run (a Llama is an lmlab GPT with other switches); a BERT
folder becomes a "bert" run holding a BertForPreTraining, as `lmlab train bert` makes, so that
`lmlab finetune classify` and `lmlab embed` take either. The run's tokenizer.json is the tokenizer
transformers' AutoTokenizer makes of the folder (`lmlab.io.hf_tokenizer`), and a sentence-transformers
folder's pooling settings come along for `lmlab embed`. An export writes the tokenizer so that
AutoTokenizer reads it back as lmlab has it, and a BERT sequence classifier as BertForSequenceClassification.
`load_bert_init` gives `lmlab train bert --init` a whole BertForPreTraining from any of these, to pretrain
further on new text (domain-adaptive pretraining: Gururangan et al. 2020, "Don't Stop Pretraining").
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from torch import nn

from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.io.checkpoint import CONFIG_FILE, load_config, save_weights
from lmlab.io.hf_bert import bert_config_from_hf, load_hf_bert
from lmlab.io.hf_folder import read_hf_config
from lmlab.io.hf_tokenizer import load_hf_tokenizer, read_tokenizer_config, save_hf_tokenizer
from lmlab.io.st_folder import copy_st_settings, read_st_settings
from lmlab.models.bert.model import BertForPreTraining, BertPooler, bert_init_
from lmlab.runs import families
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import TOKENIZER, Run, write_run_config


def _titles() -> str:
    """The architectures lmlab converts, in words: "GPT-2, Llama, BERT, ResNet or ViT"."""
    titles = list(dict.fromkeys(c.title for f in families.FAMILIES.values() for c in f.hf.values()))
    return f"{', '.join(titles[:-1])} or {titles[-1]}"


def family_of(model_type: str | None, folder: str | Path | None = None) -> str:
    """The lmlab family a Hugging Face model_type imports as (the first registered that converts it)."""
    for family in families.FAMILIES.values():
        if model_type in family.hf:
            return family.name
    known = list(dict.fromkeys(t for f in families.FAMILIES.values() for t in f.hf))
    found = f"model_type {model_type!r}" if model_type else "no model_type"
    where = f"{Path(folder) / CONFIG_FILE} has {found}; " if folder is not None else f"{found}: "
    raise LmlabError(f"{where}lmlab converts model_type {', '.join(map(repr, known[:-1]))} and {known[-1]!r} only")


def _source(folder: Path) -> tuple[families.Family, families.Converter, dict[str, Any]]:
    """The family a Hugging Face folder imports as, the converter of its model_type, and its config.json."""
    hf_cfg = read_hf_config(folder)
    model_type = hf_cfg.get("model_type")
    family = families.get(family_of(model_type, folder))
    return family, family.hf[model_type], hf_cfg


def load_hf(path: str | Path) -> nn.Module:
    """Build an lmlab model from a Hugging Face folder, chosen by config.json's model_type: a GPT from
    GPT-2 or Llama, a BERT (BertModel or the head named in `architectures`) from BERT, a CNN from ResNet,
    a ViT from ViT."""
    _, converter, _ = _source(Path(path))
    return families.resolve(converter.load)(path)


def save_hf(model: nn.Module, path: str | Path, overwrite: bool = False, *, eos_id: int | None = None,
            labels: list[str] | None = None, family: families.Family | None = None) -> str:
    """Write `model` as the Hugging Face architecture that computes the same function; returns its
    model_type. The family (the one whose model config is the model's, unless given) tries its converters in
    order: a GPT that neither GPT-2 nor Llama can express is refused, with the reasons; a BERT (BertModel or a
    head) is written as HF BERT, a ResNet and a ViT as their HF classifiers (other CNNs and ViTs refused, saying
    why). eos_id: a GPT's end-of-text token (where generation stops); labels: a classifier's class names."""
    if family is None:
        try:
            family = families.of_model_config(getattr(model, "cfg", None))
        except LmlabError:
            family = None
    if family is None or not family.hf:
        raise LmlabError(f"cannot export a {type(model).__name__} as a Hugging Face model ({_titles()} only)")
    options = {"eos_id": eos_id, "labels": labels}
    refused: dict[str, list[str]] = {}
    for model_type, converter in family.hf.items():
        why = families.resolve(converter.unsupported)(model.cfg) if converter.unsupported else []
        if not why:
            save = families.resolve(converter.save)
            save(model, path, overwrite=overwrite, **{k: options[k] for k in converter.save_options})
            return model_type
        refused[converter.title] = why
    who = f"neither {' nor '.join(refused)} computes" if len(refused) > 1 else f"{next(iter(refused))} does not compute"
    reasons = ". ".join(f"not {title}: {'; '.join(why)}" for title, why in refused.items())
    raise LmlabError(f"cannot export as a Hugging Face model: {who} this {type(model).__name__} ({reasons})")


def import_hf(hf_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """A run directory (config.json, model.safetensors, tokenizer.json if the folder has a tokenizer) from an HF
    folder, through its family's converter; a BERT becomes a "bert" run (BertForPreTraining: heads the folder
    lacks start fresh, with a note)."""
    hf_dir = Path(hf_dir)
    if not hf_dir.is_dir():
        raise LmlabError(f"{hf_dir} is not a folder; give a Hugging Face {_titles()} folder "
                         "(config.json + model.safetensors)")
    family, converter, hf_cfg = _source(hf_dir)
    model_type = hf_cfg["model_type"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = families.resolve(converter.load)(hf_dir, **({"head": converter.head} if converter.head else {}))
    tokenizer = load_hf_tokenizer(hf_dir, model_type, model_vocab_size=getattr(model.cfg, "vocab_size", None))
    st = read_st_settings(hf_dir)  # checked before the run is created
    labels = [hf_cfg["id2label"][str(i)] for i in range(len(hf_cfg["id2label"]))] \
        if "classify" in family.commands and hf_cfg.get("id2label") else None  # an image classifier's classes
    run_dir = prepare_run_dir(out, resume=False, overwrite=overwrite)
    write_run_config(run_dir, family.name, {"model": model.cfg}, source=f"hf:{hf_dir}",
                     **({"labels": labels} if labels else {}))
    save_weights(run_dir, model, step=0)
    if tokenizer is not None:
        tokenizer.save(run_dir / TOKENIZER)
    if st is not None:
        copy_st_settings(hf_dir, run_dir, embedding_defaults(hf_dir, model.cfg.max_seq_len)["max_len"])
    for w in caught:
        print(f"note: {w.message}")
    return run_dir


def export_hf(run: str | Path, out: str | Path, overwrite: bool = False) -> tuple[Path, str]:
    """A Hugging Face folder (config.json, model.safetensors, and the tokenizer as AutoTokenizer reads it back)
    from an lmlab run, through its family's converters; returns the folder and the model_type written (e.g.
    "gpt2", "llama", "bert"). A BERT sequence classifier is written as BertForSequenceClassification, with its
    labels. A LoRA or QLoRA run is exported merged (its NF4 base dequantised): the plain model that computes
    what the run does."""
    run = Run.open(run)
    if not run.family.hf:
        able = [f.name for f in families.FAMILIES.values() if f.hf]
        raise LmlabError(f"{run.path} holds a '{run.name}' run, which has no Hugging Face counterpart lmlab "
                         f"writes; `lmlab hf export` takes {', '.join(able)} runs")
    tok = run.tokenizer() if (run.path / TOKENIZER).is_file() else None
    model = run.model()
    model_type = save_hf(model, out, overwrite=overwrite, eos_id=tok.eos_id if tok else None,
                         labels=run.meta.get("labels"), family=run.family)
    if tok is not None:  # a decoder's tokenizer pads on the left, for batched generation
        save_hf_tokenizer(tok, out, model_max_length=model.cfg.max_seq_len, causal=run.family.lm == "causal")
    if "data" in run.meta and hasattr(run.config("data"), "preprocessing") and run.meta["data"].get("input_size"):
        prep = run.config("data").preprocessing()  # an image run: how images are read, for AutoImageProcessor
        atomic_write_text(Path(out) / "preprocessor_config.json", json.dumps(prep.hf_processor(), indent=2) + "\n")
    return Path(out), model_type


def embedding_defaults(source: str | Path, max_seq_len: int) -> dict[str, Any]:
    """How sentence-transformers would embed with the folder: pooling and normalisation (mean, off for a
    plain BERT), the longest input (its max_seq_length, else the tokenizer's model_max_length, at most the
    model's max_seq_len) and whether texts are lower-cased first."""
    st = read_st_settings(source) or {}
    limit = st.get("max_len") or read_tokenizer_config(source).get("model_max_length")
    return {"pooling": st.get("pooling", "mean"), "normalize": st.get("normalize", False),
            "max_len": min(int(limit), max_seq_len) if limit else max_seq_len, "lowercase": st.get("lowercase", False)}


def load_bert_encoder(source: str | Path):
    """The pretrained encoder (BertModel, with its pooler) and tokenizer of an lmlab BERT run or a Hugging Face
    BERT folder (config.json + model.safetensors + tokenizer.json or vocab.txt)."""
    source = Path(source)
    meta = load_config(source, required=()) if (source / CONFIG_FILE).is_file() else None
    if meta is not None and meta.get("family") == "bert":
        run = Run(source, meta)
        encoder = run.model().bert
        files = [name for name in (TOKENIZER, "vocab.txt") if (source / name).is_file()]
        tok = run.tokenizer(files[0]) if files else None
    elif meta is not None and meta.get("model_type") == "bert":
        encoder = load_hf_bert(source, head="base")
        tok = load_hf_tokenizer(source, "bert", model_vocab_size=encoder.cfg.vocab_size)
    else:
        raise LmlabError(f"{source} is neither an lmlab BERT run (`lmlab train bert`) nor a Hugging Face "
                         "BERT folder (config.json with model_type 'bert')")
    if tok is None:
        raise LmlabError(f"{source} has no tokenizer.json or vocab.txt")
    return encoder, tok


def _bert_init_kind(source: Path) -> tuple[str, dict]:
    """("run", config.json) for an lmlab bert or bert-classifier run, ("hf", config.json) for a Hugging Face BERT
    folder; anything else is refused with one line saying what --init takes."""
    meta = load_config(source, required=()) if (source / CONFIG_FILE).is_file() else {}
    if meta.get("family") in ("bert", "bert-classifier"):
        return "run", meta
    if meta.get("model_type") == "bert" and "family" not in meta:
        return "hf", meta
    what = (f"holds a '{meta['family']}' run" if meta.get("family") else
            f"is a Hugging Face '{meta['model_type']}' folder" if meta.get("model_type") else
            "has no config.json" if not meta else "has a config.json of neither kind")
    raise LmlabError(f"--init {source} {what}; give an lmlab BERT run (`lmlab train bert`, `lmlab finetune "
                     "classify`) or a Hugging Face BERT folder (config.json with model_type 'bert')")


def bert_init_config(source: str | Path):
    """The BertConfig of an --init source, read from its config.json alone (no weights): refused early if the
    source is not a BERT."""
    source = Path(source)
    kind, meta = _bert_init_kind(source)
    return Run(source, meta).config("model") if kind == "run" else bert_config_from_hf(meta)


def load_bert_init(source: str | Path):
    """A BertForPreTraining and its WordPiece tokenizer from an lmlab BERT run (a LoRA or QLoRA one merged), a
    bert-classifier run's encoder, or a Hugging Face BERT folder (BertForPreTraining, BertForMaskedLM or
    BertModel weights). Heads (MLM, NSP) and the pooler the source lacks start fresh, with a warning."""
    source = Path(source)
    kind, meta = _bert_init_kind(source)
    if kind == "hf":
        model = load_hf_bert(source, head="pretraining")  # warns of the heads it initialises
        tok = load_hf_tokenizer(source, "bert", model_vocab_size=model.cfg.vocab_size)
    else:
        run = Run(source, meta)
        model = run.model()
        if not isinstance(model, BertForPreTraining):  # a classifier: its encoder, under new pretraining heads
            encoder = model.bert
            if encoder.pooler is None:
                encoder.pooler = BertPooler(encoder.cfg.d_model)
                bert_init_(encoder.pooler)
            model = BertForPreTraining(encoder)
            warnings.warn(f"{source} is a {run.name} run: its encoder is kept, the MLM and NSP heads are newly "
                          "initialised", stacklevel=2)
        files = [name for name in (TOKENIZER, "vocab.txt") if (source / name).is_file()]
        tok = run.tokenizer(files[0]) if files else None
    if tok is None:
        raise LmlabError(f"--init {source} has no tokenizer.json or vocab.txt; continued pretraining uses the "
                         "init's own tokenizer")
    return model, tok


def hf_origin(run_dir: str | Path) -> str | None:
    """The Hugging Face folder a run's weights came from, for adapter_config.json's base_model_name_or_path: its
    --init when that is an HF folder, else the "hf:" source of its --init run (`lmlab hf import`) or its own."""
    try:
        meta = load_config(run_dir, required=())
        if meta.get("init"):
            meta = load_config(meta["init"], required=())
            if meta.get("model_type") and "family" not in meta:
                return str(load_config(run_dir, required=())["init"])
    except LmlabError:
        return None
    source = str(meta.get("source", ""))
    return source.removeprefix("hf:") if source.startswith("hf:") else None
def hf_bert_base(source: str | Path) -> str | None:
    """`source` when it is a Hugging Face BERT folder (the base a peft adapter names), else None."""
    cfg = Path(source) / CONFIG_FILE
    return str(source) if cfg.is_file() and json.loads(cfg.read_text()).get("model_type") == "bert" else None
