"""lmlab.data.word_chars: the word rule, characters as UTF-8 bytes between word marks, the vocabulary, and batches
whose forward targets are the next words and backward targets the previous ones, resumably."""

from __future__ import annotations

import pytest
import torch

from lmlab.data.word_chars import (
    BOW,
    EOS,
    EOW,
    PAD,
    UNK,
    WordCorpus,
    WordDataConfig,
    build_vocab,
    char_ids,
    char_tensor,
    corpus_words,
    load_vocab,
    split_words,
)
from lmlab.errors import LmlabError


def test_split_words_keeps_inner_apostrophes_and_splits_punctuation():
    assert split_words("Don't, O'er the bank!") == ["Don't", ",", "O'er", "the", "bank", "!"]
    assert split_words("The Bank", lowercase=True) == ["the", "bank"]
    assert corpus_words("a b\n\n c .\n") == ["a", "b", EOS, "c", ".", EOS]


def test_char_ids_are_bytes_between_word_marks():
    assert char_ids("ab", 6) == [BOW, ord("a") + 1, ord("b") + 1, EOW, PAD, PAD]
    assert char_ids("银", 6) == [BOW, *(b + 1 for b in "银".encode()), EOW, PAD]   # three UTF-8 bytes
    assert char_ids("abcdefgh", 5) == [BOW, 98, 99, 100, EOW]                    # cut to max_chars - 2 bytes
    assert len(set(map(tuple, [char_ids(EOS, 8), char_ids("</S>", 8)]))) == 1
    assert char_ids(EOS, 8) != char_ids("<", 8)
    chars, lengths = char_tensor([["a", "b"], ["c"]], 5)
    assert chars.shape == (2, 2, 5) and lengths.tolist() == [2, 1] and chars[1, 1].eq(PAD).all()


def test_vocabulary_is_unk_then_by_frequency_then_alphabetical():
    assert build_vocab("b a c a b d a".split(), 3) == [UNK, "a", "b"]
    assert build_vocab("y x".split(), 10) == [UNK, "x", "y"]


def test_batches_hold_the_next_and_previous_words(shakespeare_small):
    text = shakespeare_small.read_text(encoding="utf-8")
    corpus = WordCorpus(text, WordDataConfig(max_vocab=300), max_chars=12)
    assert len(corpus.vocab) == 300 and corpus.vocab[0] == UNK
    train, val = corpus.batches(seq_len=8, batch_size=4, seed=0, eval_batches=2)
    batch = train.next()
    assert batch["chars"].shape == (4, 8, 12) and batch["input_ids"].shape == batch["next"].shape == (4, 8)
    assert torch.equal(batch["next"][:, :-1], batch["input_ids"][:, 1:])
    assert torch.equal(batch["prev"][:, 1:], batch["input_ids"][:, :-1])
    # a known word's characters and its softmax id agree
    words = [corpus.vocab[i] for i in batch["input_ids"][0].tolist()]
    for w, c in zip(words, batch["chars"][0]):
        if w != UNK:
            assert c.tolist() == char_ids(w, 12)
    state = train.state_dict()
    again = [train.next() for _ in range(2)]
    train.load_state_dict(state)
    assert all(torch.equal(a["chars"], train.next()["chars"]) for a in again)
    assert len(val) == 2 and torch.equal(val[0]["chars"], corpus.batches(8, 4, 0, 2)[1][0]["chars"])


def test_rare_words_are_unk_targets_but_keep_their_characters():
    text = "the cat sat . " * 20 + "the zyzzyva sat ."
    corpus = WordCorpus(text, WordDataConfig(max_vocab=4, val_fraction=0.1), max_chars=12)
    types = list(dict.fromkeys(corpus_words(text)))
    z = types.index("zyzzyva")
    assert corpus.type_word[z] == 0 and corpus.type_chars[z].tolist() == char_ids("zyzzyva", 12)


def test_refusals(tmp_path):
    with pytest.raises(LmlabError, match="words"):
        WordCorpus("too short", WordDataConfig(), 10)
    (tmp_path / "vocab.txt").write_text("the\n<unk>\n", encoding="utf-8")
    with pytest.raises(LmlabError, match="vocab.txt:1"):
        load_vocab(tmp_path / "vocab.txt")
    with pytest.raises(ValueError, match="max_vocab"):
        WordDataConfig(max_vocab=1)
