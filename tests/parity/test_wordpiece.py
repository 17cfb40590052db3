"""lmlab's WordPiece loader vs Hugging Face transformers' BertTokenizerFast, on one vocab.txt.

The vocabulary is trained by lmlab (Tiny Shakespeare + Tang poems, so it has English pieces and
Chinese characters) and written as BERT's vocab.txt. transformers builds its own BERT pipeline from
that file; lmlab's `TextTokenizer.load("vocab.txt")` builds lmlab's. On real sentences, pairs,
accents, punctuation, Chinese, unknown characters (-> [UNK]) and truncation, the input_ids,
token_type_ids and attention_mask must be identical, and so must the tokens.

Note: transformers 5 ignores `BertTokenizerFast(vocab_file=...)` (it silently builds a 5-token
vocabulary), so the reference is loaded with `from_pretrained(folder)`, and its size is checked.
"""

from __future__ import annotations

import pytest

from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import TextTokenizer, train_tokenizer

transformers = pytest.importorskip("transformers")

SHAKESPEARE = load_text("tinyshakespeare")
TANG = load_text("tang300")

SENTENCES = [
    SHAKESPEARE[:200],                                  # real text with newlines and capitals
    "First Citizen: Before we proceed any further, hear me speak.",
    "Café, naïve résumé — Ångström's façade!",          # accents are stripped when lowercasing
    "Well... (quoth he) \"nay\"; 'tis 3:15 -- $100? #1 @ROMEO & JULIET.",
    TANG[:60],                                          # Chinese: one token per character
    "床前明月光, mixed with English: the moon!",
    "xylophone quizzical 🙂 ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",                      # unseen characters -> [UNK]
    "a" * 120 + " word",                                # longer than 100 characters -> one [UNK]
    "tab\there\r\nand\u200bzero-width\u0000control",    # BERT's clean_text
    "",
]
KEYS = ("input_ids", "token_type_ids", "attention_mask")
PAIRS = [(SENTENCES[1], SENTENCES[2]), (SENTENCES[4], SENTENCES[0]), ("Yes.", "床前明月光"), ("", "only B")]


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def both(request, tmp_path_factory):
    lowercase = request.param
    folder = tmp_path_factory.mktemp("bert")
    text = SHAKESPEARE[:60_000] + "\n" + TANG[:20_000]
    trained = train_tokenizer("wordpiece", text, vocab_size=3000, lowercase=lowercase)
    trained.save_vocab_txt(folder / "vocab.txt")
    ref = transformers.BertTokenizerFast.from_pretrained(str(folder), do_lower_case=lowercase)
    ours = TextTokenizer.load(folder / "vocab.txt", lowercase=lowercase)
    assert len(ref) == ours.vocab_size == 3000
    return ours, ref


@pytest.mark.parametrize("text", SENTENCES)
def test_single_sentence(both, text):
    ours, ref = both
    want = ref(text)
    got = ours.encode_pair(text)
    assert got == {k: want[k] for k in got}
    assert ours.tokens(got["input_ids"]) == ref.convert_ids_to_tokens(want["input_ids"])
    assert ours.encode(text) == ref(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("a,b", PAIRS)
def test_pair(both, a, b):
    ours, ref = both
    want = ref(a, b)
    assert ours.encode_pair(a, b) == {k: want[k] for k in KEYS}


@pytest.mark.parametrize("max_len", [3, 8, 9, 17, 30, 64])
@pytest.mark.parametrize("a,b", [(SENTENCES[1], SENTENCES[4][:25]), (SENTENCES[4][:25], SENTENCES[1]),
                                 (SENTENCES[1], SENTENCES[1])], ids=["B-longer", "A-longer", "tie"])
def test_truncation_and_padding(both, max_len, a, b):
    ours, ref = both
    want = ref(a, b, truncation="longest_first", max_length=max_len, padding="max_length")
    got = ours.encode_pair(a, b, max_len=max_len, pad=True)
    assert got == {k: want[k] for k in got}
    assert len(got["input_ids"]) == max_len
    assert sum(got["attention_mask"]) == min(max_len, len(ours.encode_pair(a, b)["input_ids"]))
    want = ref(a, truncation=True, max_length=max_len)
    assert ours.encode_pair(a, max_len=max_len) == {k: want[k] for k in got}


def test_unknowns_are_unk(both):
    ours, _ = both
    unk = ours.special_ids["unk"]
    assert ours.encode("a" * 120) == [unk]  # a word over 100 characters is one [UNK], as in BERT
    assert ours.encode("🙂 ☃").count(unk) == 2


def test_word_ids_match_transformers(both):
    """Our word index per token equals transformers' word_ids (its B words restart at 0; ours go on)."""
    ours, ref = both
    text = "Unbelievably, the KING's café sleepeth — 床前明月光!"
    enc = ref(text)
    assert ours.word_ids(enc["input_ids"]) == enc.word_ids()


def test_transformers_tokenizer_json_loads_as_wordpiece(both, tmp_path):
    """A tokenizer.json written by transformers (as in any BERT checkpoint folder) loads as kind
    "wordpiece", with its own specials and [CLS] A [SEP] B [SEP] pipeline."""
    ours, ref = both
    ref.save_pretrained(str(tmp_path))
    loaded = TextTokenizer.load(tmp_path / "tokenizer.json")
    assert loaded.kind == "wordpiece" and loaded.special_ids == ours.special_ids
    for a, b in PAIRS:
        want = ref(a, b)
        assert loaded.encode_pair(a, b) == {k: want[k] for k in KEYS}
        assert loaded.tok.encode(a, b).ids == want["input_ids"]
