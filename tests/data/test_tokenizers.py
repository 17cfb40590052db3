import pytest

from lmlab.data.corpora import load_text
from lmlab.data.tokenizers import TextTokenizer, train_tokenizer
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
