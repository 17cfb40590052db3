import pytest

from lmlab.cli import main
from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import TextTokenizer, train_tokenizer, truncate_longest_first
from lmlab.errors import LmlabError


@pytest.mark.parametrize("corpus", ["tinyshakespeare", "tang300"])
@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_round_trip_and_reload(tmp_path, corpus, kind):
    text = load_text(corpus)[:20_000]
    tok = train_tokenizer(kind, text, vocab_size=400)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    tok.save(tmp_path / "tokenizer.json")
    again = TextTokenizer.load(tmp_path / "tokenizer.json")
    assert again.kind == kind and again.vocab_size == tok.vocab_size
    assert again.encode(text) == ids


def test_char_vocab_is_the_set_of_characters():
    tok = train_tokenizer("char", "床前明月光，疑是地上霜。")
    assert tok.vocab_size == len(set("床前明月光，疑是地上霜。"))
    # the fast per-character path gives the ids of the Rust pipeline
    assert tok.encode("明月光") == tok.tok.encode("明月光").ids


def test_bpe_vocab_size_is_a_flag_and_compresses():
    text = load_text("tinyshakespeare")[:50_000]
    small, large = train_tokenizer("bpe", text, 300), train_tokenizer("bpe", text, 1000)
    assert small.vocab_size == 300 and large.vocab_size == 1000
    assert len(large.encode(text)) < len(small.encode(text)) < len(text)


def test_unseen_character_error():
    tok = train_tokenizer("char", "abc")
    with pytest.raises(LmlabError, match="never saw"):
        tok.encode("abz")


# ---- WordPiece (BERT) --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wordpiece_tok():
    return train_tokenizer("wordpiece", load_text("tinyshakespeare")[:50_000], vocab_size=800)


def test_wordpiece_vocab_has_the_requested_size_and_the_specials(wordpiece_tok):
    assert wordpiece_tok.kind == "wordpiece" and wordpiece_tok.vocab_size == 800
    assert wordpiece_tok.special_ids == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert wordpiece_tok.eos_id is None
    assert any(t.startswith("##") for t in wordpiece_tok.tok.get_vocab())


def test_wordpiece_encode_has_no_specials_and_decodes_lowercased(wordpiece_tok):
    ids = wordpiece_tok.encode("First Citizen: Hear me speak.")
    assert not set(ids) & set(wordpiece_tok.special_ids.values())
    assert wordpiece_tok.decode(ids) == "first citizen : hear me speak."


def test_wordpiece_save_load_round_trip(tmp_path, wordpiece_tok):
    text, pair = "Before we proceed any further, hear me speak.", "Speak, speak."
    wordpiece_tok.save(tmp_path / "tokenizer.json")
    wordpiece_tok.save_vocab_txt(tmp_path / "vocab.txt")
    lines = (tmp_path / "vocab.txt").read_text().splitlines()
    assert lines[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for path in ("tokenizer.json", "vocab.txt"):
        again = TextTokenizer.load(tmp_path / path)
        assert again.kind == "wordpiece" and again.vocab_size == 800
        assert again.special_ids == wordpiece_tok.special_ids
        assert again.encode(text) == wordpiece_tok.encode(text)
        assert again.encode_pair(text, pair) == wordpiece_tok.encode_pair(text, pair)
    # the HF pipeline in the file adds [CLS]/[SEP] itself, with segment ids
    hf = TextTokenizer.load(tmp_path / "tokenizer.json").tok.encode(text, pair)
    ours = wordpiece_tok.encode_pair(text, pair)
    assert hf.ids == ours["input_ids"] and hf.type_ids == ours["token_type_ids"]


def test_pair_layout_and_segment_ids(wordpiece_tok):
    a, b = wordpiece_tok.encode("hear me"), wordpiece_tok.encode("speak")
    cls, sep = wordpiece_tok.special_ids["cls"], wordpiece_tok.special_ids["sep"]
    out = wordpiece_tok.encode_pair("Hear me", "speak")
    assert out["input_ids"] == [cls, *a, sep, *b, sep]
    assert out["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    assert out["attention_mask"] == [1] * len(out["input_ids"])
    single = wordpiece_tok.encode_pair("Hear me")
    assert single["input_ids"] == [cls, *a, sep] and set(single["token_type_ids"]) == {0}


def test_truncation_longest_first_and_padding(wordpiece_tok):
    assert truncate_longest_first([1] * 10, [2] * 3, 9) == ([1] * 6, [2] * 3)  # short one fits: kept whole
    assert truncate_longest_first([1] * 10, [2] * 8, 9) == ([1] * 5, [2] * 4)  # halves, odd one to the longer
    assert truncate_longest_first([1] * 4, [2] * 4, 7) == ([1] * 3, [2] * 4)   # tie: B keeps the odd one
    assert truncate_longest_first([1] * 10, None, 4) == ([1] * 4, None)
    out = wordpiece_tok.encode_pair("hear me speak " * 5, "yes", max_len=12, pad=True)
    assert len(out["input_ids"]) == 12 and out["input_ids"][-2:] == [wordpiece_tok.encode("yes")[0], 3]
    out = wordpiece_tok.encode_pair("hear", max_len=8, pad=True)
    assert out["input_ids"][3:] == [0] * 5 and out["attention_mask"] == [1] * 3 + [0] * 5
    with pytest.raises(LmlabError, match="no room"):
        wordpiece_tok.encode_pair("a", "b", max_len=2)


def test_a_files_own_padding_and_truncation_are_switched_off(tmp_path, wordpiece_tok):
    """Published tokenizer.json files often pad to a fixed length (and truncate): lmlab pads where it asks."""
    text = "to be or not to be that is the question"
    wordpiece_tok.tok.enable_padding(pad_id=0, pad_token="[PAD]", length=64)
    wordpiece_tok.tok.enable_truncation(5)
    try:
        wordpiece_tok.tok.save(str(tmp_path / "tokenizer.json"))
    finally:
        wordpiece_tok.tok.no_padding()
        wordpiece_tok.tok.no_truncation()
    tok = TextTokenizer.load(tmp_path / "tokenizer.json")
    assert tok.encode(text) == wordpiece_tok.encode(text) and len(tok.encode(text)) > 5
    assert tok.encode_pair(text) == wordpiece_tok.encode_pair(text)
    assert 0 not in tok.encode_pair(text)["attention_mask"]


def test_encode_batch_pads_to_the_longest(wordpiece_tok):
    batch = wordpiece_tok.encode_batch(["to be", "or not to be that"], max_len=6)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert len(ids[0]) == len(ids[1]) == 6
    assert ids[1] == wordpiece_tok.encode_pair("or not to be that", max_len=6)["input_ids"]
    n = len(wordpiece_tok.encode_pair("to be")["input_ids"])
    assert mask[0] == [1] * n + [0] * (6 - n) and mask[1] == [1] * 6
    assert ids[0][n:] == [wordpiece_tok.special_ids["pad"]] * (6 - n)


def test_a_mask_written_in_the_text_is_the_mask_token(tmp_path, wordpiece_tok):
    """As in transformers: "[MASK]" in a text is one token, also for a tokenizer read from vocab.txt."""
    wordpiece_tok.save_vocab_txt(tmp_path / "vocab.txt")
    for tok in (wordpiece_tok, TextTokenizer.load(tmp_path / "vocab.txt")):
        assert tok.special_ids["mask"] in tok.encode("to [MASK] or not")


def test_word_boundaries(wordpiece_tok):
    out = wordpiece_tok.encode_pair("Unbelievably cold", "speak")
    ids = out["input_ids"]
    toks = wordpiece_tok.tokens(ids)
    assert toks[0] == "[CLS]" and toks[2].startswith("##")  # "unbelievably" splits into pieces
    starts = wordpiece_tok.word_starts(ids)
    assert starts == [not t.startswith("##") for t in toks]
    assert [wordpiece_tok.is_continuation(i) for i in ids] == [t.startswith("##") for t in toks]
    words = wordpiece_tok.word_ids(ids)
    n = [len(wordpiece_tok.encode(w)) for w in ("unbelievably", "cold", "speak")]
    assert words == [None] + [0] * n[0] + [1] * n[1] + [None] + [2] * n[2] + [None]
    # [UNK] is a word (it replaced one); a "##" piece with nothing before it starts a word
    cont = next(i for t, i in wordpiece_tok.tok.get_vocab().items() if t.startswith("##"))
    assert wordpiece_tok.word_ids([2, cont, cont, 1, 3]) == [None, 0, 0, 1, None]


def test_word_boundaries_of_other_kinds():
    char = train_tokenizer("char", "床前明月光")
    assert char.word_starts(char.encode("明月光")) == [True] * 3 and char.special_ids == {}
    bpe = train_tokenizer("bpe", load_text("tinyshakespeare")[:5000], 300)
    assert bpe.special_ids == {"eos": bpe.eos_id}
    with pytest.raises(LmlabError, match="does not mark them"):
        bpe.word_starts(bpe.encode("hello world"))
    with pytest.raises(LmlabError, match="no \\[CLS\\]"):
        bpe.encode_pair("a", "b")


def test_wordpiece_errors(tmp_path):
    with pytest.raises(LmlabError, match="too small"):
        train_tokenizer("wordpiece", load_text("tinyshakespeare")[:5000], vocab_size=20)
    with pytest.raises(LmlabError, match="unknown tokenizer 'sentencepiece'"):
        train_tokenizer("sentencepiece", "abc")
    (tmp_path / "vocab.txt").write_text("hello\nworld\n")
    with pytest.raises(LmlabError, match="no \\[UNK\\]"):
        TextTokenizer.load(tmp_path / "vocab.txt")


def test_cased_wordpiece_keeps_case_and_accents():
    tok = train_tokenizer("wordpiece", "Café ROMEO café romeo " * 50, vocab_size=60, lowercase=False)
    assert tok.decode(tok.encode("Café ROMEO")) == "Café ROMEO"


# ---- `lmlab tokenizer` ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "shakespeare.txt"
    path.write_text(load_text("tinyshakespeare")[:30_000], encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "char"])
def test_cli_train_then_encode(tmp_path, capsys, corpus_file, kind):
    out = tmp_path / "tok" / "tokenizer.json"
    assert main(["tokenizer", "train", "--kind", kind, "--data", str(corpus_file), "--vocab-size", "400",
                 "--out", str(out)]) == 0
    assert f"{kind} tokenizer" in capsys.readouterr().out
    tok = TextTokenizer.load(out)
    assert tok.kind == kind and (kind == "char" or tok.vocab_size == 400)
    assert main(["tokenizer", "encode", str(out), "Hear me speak."]) == 0
    printed = capsys.readouterr().out
    text = "Hear me speak."
    ids = tok.encode_pair(text)["input_ids"] if kind == "wordpiece" else tok.encode(text)
    assert f"input_ids:      {ids}" in printed


def test_cli_encode_pair_prints_segments(tmp_path, capsys, wordpiece_tok):
    wordpiece_tok.save_vocab_txt(tmp_path / "vocab.txt")
    vocab = str(tmp_path / "vocab.txt")
    assert main(["tokenizer", "encode", vocab, "Hear me", "speak", "--max-len", "5"]) == 0
    printed = capsys.readouterr().out
    enc = wordpiece_tok.encode_pair("Hear me", "speak", max_len=5)
    assert f"token_type_ids: {enc['token_type_ids']}" in printed and "'[CLS]'" in printed
    assert enc["token_type_ids"][-1] == 1 and len(enc["input_ids"]) == 5


def test_cli_tokenizer_errors(cli_fails, tmp_path, capsys, corpus_file):
    out = str(tmp_path / "t.json")
    cli_fails(["tokenizer", "train", "--kind", "wordpiece", "--data", str(tmp_path / "nope.txt"),
                       "--out", out], "nope.txt")
    cli_fails(["tokenizer", "train", "--kind", "wordpiece", "--data", str(corpus_file),
                       "--vocab-size", "10", "--out", out], "too small")
    cli_fails(["tokenizer", "train", "--kind", "unigram", "--data", str(corpus_file), "--out", out],
              "invalid choice", "unigram")
    cli_fails(["tokenizer", "train", "--kind", "bpe", "--data", str(corpus_file),
                       "--vocab-size", "100", "--out", out], "257")
    assert not (tmp_path / "t.json").exists()
    cli_fails(["tokenizer", "encode", str(tmp_path / "missing.json"), "hi"], "missing")
    train_tokenizer("char", "hi there").save(out)
    cli_fails(["tokenizer", "train", "--kind", "char", "--data", str(corpus_file), "--out", out],
              "exists", "--overwrite")
    cli_fails(["tokenizer", "encode", out, "hi", "there"], "no [CLS]/[SEP]")
    cli_fails(["tokenizer", "encode", out, "hi", "--max-len", "0"], "--max-len")
    cli_fails(["tokenizer"], "lmlab tokenizer train")
