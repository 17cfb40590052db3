"""lmlab's reading of a Hugging Face tokenizer folder vs `transformers.AutoTokenizer.from_pretrained(folder)`.

A WordPiece vocabulary (trained by lmlab on Tiny Shakespeare + Tang poems: English pieces and Chinese
characters) is written as tokenizer.json files that differ as published ones do: padding Fixed or
BatchLongest, truncation on or off, BertNormalizer lower-casing and Chinese-character splitting on or
off, a template of special tokens, with a tokenizer_config.json naming BertTokenizer (whose flags then
win over the file's normalizer), none at all (config.json's model_type decides), or
PreTrainedTokenizerFast (the file as it is). For every variant, lmlab's `load_hf_tokenizer` must give
exactly AutoTokenizer's input_ids, token_type_ids and attention_mask: one text, a pair, truncated, and
a batch padded to its longest text. Exact equality, no tolerance.
"""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, normalizers, processors

from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import train_tokenizer
from lmlab.io.hf_tokenizer import load_hf_tokenizer

transformers = pytest.importorskip("transformers")

TEXTS = [
    "First Citizen: Before we proceed any further, hear me speak.",
    "The [MASK] of VERONA, Café naïve — ROMEO & Juliet!",
    "床前明月光, mixed with English: the Moon!",
    "Hi.",
    "x",
]
PAIRS = [(TEXTS[0], TEXTS[2]), ("Yes.", "床前明月光 疑是地上霜"), (TEXTS[1], "only B")]
MAX_LEN = 12
BERT_FLAGS = ("do_lower_case", "tokenize_chinese_chars")

# name -> (padding, truncation, lowercase, chinese, template, tokenizer_config.json or None)
VARIANTS = {
    "st-fixed-pad-trunc": ("fixed", 128, True, True, "bert", {"tokenizer_class": "BertTokenizer", "do_lower_case": True}),
    "longest-pad": ("longest", None, True, True, "bert", {"tokenizer_class": "BertTokenizer"}),
    "cased-no-chinese": (None, 16, False, False, "bert",
                         {"tokenizer_class": "BertTokenizer", "do_lower_case": False, "tokenize_chinese_chars": False}),
    "config-overrides-file": ("fixed", None, False, False, "bert", {"tokenizer_class": "BertTokenizerFast"}),
    "no-tokenizer-config": ("fixed", 8, False, True, "bert", None),
    "fast-file-as-is-cased": ("fixed", 64, False, False, "bert",
                              {"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "[PAD]"}),
    "fast-other-template": (None, None, True, True, "sep-only",
                            {"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "[PAD]"}),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """An uncased lmlab WordPiece tokenizer.json (as a string) and a BertConfig to go with it."""
    text = load_text("tinyshakespeare")[:30_000] + "\n" + load_text("tang300")[:2_000]
    tok = train_tokenizer("wordpiece", text, vocab_size=1500)
    path = tmp_path_factory.mktemp("wp") / "tokenizer.json"
    tok.save(path)
    return path.read_text(encoding="utf-8"), tok.vocab_size


@pytest.fixture(scope="module", params=list(VARIANTS))
def both(request, base, tmp_path_factory):
    padding, truncation, lowercase, chinese, template, config = VARIANTS[request.param]
    tok = Tokenizer.from_str(base[0])
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=chinese, strip_accents=None,
                                                lowercase=lowercase)
    if template == "sep-only":
        tok.post_processor = processors.TemplateProcessing(single="$A [SEP]", pair="$A [SEP] $B:1 [SEP]:1",
                                                           special_tokens=[("[SEP]", tok.token_to_id("[SEP]"))])
    if padding:
        tok.enable_padding(pad_id=0, pad_token="[PAD]", length=128 if padding == "fixed" else None)
    if truncation:
        tok.enable_truncation(truncation)
    folder = tmp_path_factory.mktemp(request.param)
    tok.save(str(folder / "tokenizer.json"))
    transformers.BertConfig(vocab_size=base[1], hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=8).to_json_file(folder / "config.json")
    if config is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    ref = transformers.AutoTokenizer.from_pretrained(str(folder))
    ours = load_hf_tokenizer(folder, "bert")
    return ours, ref


def same(ours: dict, ref) -> None:
    """Every array transformers returns (token_type_ids only where its class returns them) equals lmlab's."""
    assert set(ref) <= set(ours)
    for key in ref:
        assert ours[key] == ref[key], key


def test_one_text(both):
    ours, ref = both
    for text in TEXTS:
        same(ours.encode_pair(text), ref(text))
        same(ours.encode_pair(text, max_len=MAX_LEN), ref(text, truncation=True, max_length=MAX_LEN))


def test_pairs(both):
    ours, ref = both
    for a, b in PAIRS:
        same(ours.encode_pair(a, b), ref(a, b))
        same(ours.encode_pair(a, b, max_len=MAX_LEN), ref(a, b, truncation=True, max_length=MAX_LEN))


def test_batch_padded_to_its_longest(both):
    ours, ref = both
    same(ours.encode_batch(TEXTS), ref(TEXTS, padding=True))
    same(ours.encode_batch(TEXTS, max_len=MAX_LEN), ref(TEXTS, padding=True, truncation=True, max_length=MAX_LEN))
    assert ours.tokens(ours.encode_pair(TEXTS[1])["input_ids"]) == ref.convert_ids_to_tokens(ref(TEXTS[1])["input_ids"])
