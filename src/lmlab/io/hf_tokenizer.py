"""Tokenizers of Hugging Face model folders: read as `transformers.AutoTokenizer` reads them, written so
that it reads them back as lmlab has them.

Reading (`load_hf_tokenizer`). The files are tokenizer.json (a `tokenizers` pipeline) or vocab.txt,
and tokenizer_config.json, whose `tokenizer_class` decides what transformers makes of them:
- "BertTokenizer" (also what a BERT folder without tokenizer_config.json gets) keeps only the vocabulary
  and rebuilds BERT's pipeline from tokenizer_config.json's do_lower_case, tokenize_chinese_chars and
  strip_accents (defaults True, True, None), whatever tokenizer.json's normalizer and template say;
- "PreTrainedTokenizerFast" and every other class: tokenizer.json as it is (normalizer, template).
The padding and truncation a tokenizer.json may carry (published sentence-transformers checkpoints pad
to a fixed length) are switched off, as transformers switches them off per call (`TextTokenizer`).

Writing (`save_hf_tokenizer`): tokenizer.json as lmlab has it, tokenizer_config.json naming
PreTrainedTokenizerFast (so that the file is taken as it is; without it transformers guesses a class
from config.json's model_type, e.g. GPT2Tokenizer, which drops every space of a char vocabulary), the
special tokens, model_max_length, the padding side and no clean-up of decoded spaces; BERT's vocab.txt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmlab.config import load_json
from lmlab.data.tokenizers import BERT_SPECIALS, TextTokenizer, bert_tokenizer, read_vocab_txt
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text

TOKENIZER_FILE, VOCAB_FILE, TOKENIZER_CONFIG = "tokenizer.json", "vocab.txt", "tokenizer_config.json"
BERT_CLASSES = ("BertTokenizer", "BertTokenizerFast")
# the class transformers builds when tokenizer_config.json names none (from config.json's model_type)
CLASS_OF_MODEL_TYPE = {"bert": "BertTokenizer"}
# lmlab's name of a special token -> tokenizer_config.json's key
SPECIAL_KEYS = {"pad": "pad_token", "unk": "unk_token", "cls": "cls_token", "sep": "sep_token", "mask": "mask_token"}


def read_tokenizer_config(folder: str | Path) -> dict[str, Any]:
    """tokenizer_config.json of a folder as a dict ({} if it has none)."""
    path = Path(folder) / TOKENIZER_CONFIG
    return load_json(path) if path.is_file() else {}


def _wordpiece_vocab(path: Path) -> dict[str, int]:
    try:
        model = json.loads(path.read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError) as e:
        raise LmlabError(f"{path} is not a valid tokenizer ({e}); restore it") from None
    if model.get("type") != "WordPiece":
        raise LmlabError(f"{path} holds a {model.get('type')} model, but its {TOKENIZER_CONFIG} names a BERT "
                         "tokenizer (WordPiece)")
    return dict(model["vocab"])


def load_hf_tokenizer(folder: str | Path, model_type: str | None = None,
                      model_vocab_size: int | None = None) -> TextTokenizer | None:
    """The tokenizer of a Hugging Face folder as AutoTokenizer builds it (None if the folder has none)."""
    folder = Path(folder)
    files = [folder / name for name in (TOKENIZER_FILE, VOCAB_FILE) if (folder / name).is_file()]
    if not files:
        return None
    cfg = read_tokenizer_config(folder)
    cls = cfg.get("tokenizer_class") or CLASS_OF_MODEL_TYPE.get(model_type or "")
    if cls in BERT_CLASSES:
        for name, key in SPECIAL_KEYS.items():
            if str(cfg.get(key, BERT_SPECIALS[name])) != BERT_SPECIALS[name]:
                raise LmlabError(f"{folder / TOKENIZER_CONFIG} names {key} {cfg[key]!r}; lmlab reads BERT "
                                 f"tokenizers whose special tokens are {' '.join(BERT_SPECIALS.values())}")
        vocab = _wordpiece_vocab(files[0]) if files[0].name == TOKENIZER_FILE else read_vocab_txt(files[0])
        tok = bert_tokenizer(vocab, lowercase=cfg.get("do_lower_case", True),
                             chinese=cfg.get("tokenize_chinese_chars", True), strip_accents=cfg.get("strip_accents"))
    else:
        tok = TextTokenizer.load(files[0], lowercase=cfg.get("do_lower_case", True))
    if model_vocab_size is not None and tok.vocab_size > model_vocab_size:
        raise LmlabError(f"{files[0]} has {tok.vocab_size} tokens but the model in {folder} only {model_vocab_size}")
    return tok


def save_hf_tokenizer(tok: TextTokenizer, folder: str | Path, model_max_length: int, causal: bool) -> None:
    """Write tokenizer.json, tokenizer_config.json (and vocab.txt for WordPiece) into `folder`.

    causal: a decoder's tokenizer (pads on the left, for batched generation; no token_type_ids)."""
    folder = Path(folder)
    cfg: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model_max_length,
        "padding_side": "left" if causal else "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"] if causal
        else ["input_ids", "token_type_ids", "attention_mask"],
    }
    specials = {name: tok.tok.id_to_token(i) for name, i in tok.special_ids.items()}
    cfg.update({key: specials[name] for name, key in SPECIAL_KEYS.items() if name in specials})
    if "eos" in specials:  # GPT-2's <|endoftext|> both begins and ends a text
        cfg.update(bos_token=specials["eos"], eos_token=specials["eos"])
    tok.tok.add_special_tokens(list(specials.values()))  # matched whole in a text, as transformers does
    normalizer = json.loads(tok.tok.normalizer.__getstate__()) if tok.tok.normalizer is not None else {}
    if normalizer.get("type") == "BertNormalizer":  # what BertTokenizer.from_pretrained would rebuild
        cfg.update(do_lower_case=normalizer["lowercase"], tokenize_chinese_chars=normalizer["handle_chinese_chars"],
                   strip_accents=normalizer["strip_accents"])
    tok.save(folder / TOKENIZER_FILE)
    if tok.kind == "wordpiece":
        tok.save_vocab_txt(folder / VOCAB_FILE)
    atomic_write_text(folder / TOKENIZER_CONFIG, json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
