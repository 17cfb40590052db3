"""CoNLL reading (columns, -DOCSTART-, BIO checks, IOB1 conversion, bad lines by FILE:LINE and --skip-bad),
the word splitter, and the word -> WordPiece alignment, checked against Hugging Face's own recipe
(`tokenizer(words, is_split_into_words=True).word_ids()`, the first piece of each word labelled).

tests/data/ner_debian_300.conll: 300 Debian package descriptions (Debian 12's package index, the
packages' authors' text), labelled by benchmarks/ner_data.py's rule (package names as B-PKG)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmlab.data.conll import (
    IGNORE,
    NerDataConfig,
    encode_sentence,
    label_vocab,
    read_conll,
    split_sentences,
    split_words,
    write_conll,
)
from lmlab.data.tokenizers import train_wordpiece
from lmlab.errors import LmlabError

SAMPLE = Path(__file__).parent / "ner_debian_300.conll"


@pytest.fixture(scope="module")
def tok():
    text = "\n".join(" ".join(s.words) for s in read_conll(SAMPLE))
    return train_wordpiece(text, vocab_size=400)


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "x.conll"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_sample():
    sents = read_conll(SAMPLE)
    assert len(sents) == 300 and sum(lb != "O" for s in sents for lb in s.labels) == 162
    assert sents[0].words[-1] == "OCaml" and sents[0].labels[-1] == "B-PKG" and sents[0].line == 1
    assert label_vocab(sents) == ["O", "B-PKG", "I-PKG"]


def test_columns_docstart_and_blank_lines(tmp_path):
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\n"
                           "Peter\tB-PER\nBlack berry\tI-PER\n")  # a tab: the word may hold a space
    sents = read_conll(path)
    assert [s.words for s in sents] == [["EU", "rejects"], ["Peter", "Black berry"]]
    assert [s.labels for s in sents] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert [s.line for s in sents] == [3, 7]
    assert label_vocab(sents) == ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def test_bad_lines_name_file_and_line(tmp_path):
    cases = {"a O\nlonely\n": ":2: 'lonely' is not 'word … label'",
             "a O\nb X-PER\n": ":2: label 'X-PER' is not O, B-TYPE or I-TYPE",
             "a O\nb I-PER\n": ":2: 'I-PER' follows 'O': in IOB2",
             "a B-ORG\nb I-PER\n": ":2: 'I-PER' follows 'B-ORG'"}
    for text, message in cases.items():
        with pytest.raises(LmlabError, match=message) as err:
            read_conll(write(tmp_path, text))
        assert str(tmp_path / "x.conll") in str(err.value) and "--skip-bad" in str(err.value)


def test_skip_bad_drops_the_sentence_and_counts(tmp_path, capsys):
    path = write(tmp_path, "a O\nb B-X\n\nc O\nbroken\nd O\n\ne I-X\n\nf B-X\ng I-X\n")
    sents = read_conll(path, skip_bad=True)
    assert [s.words for s in sents] == [["a", "b"], ["f", "g"]]
    assert "skipped 2 bad row(s)" in capsys.readouterr().err


def test_iob1_is_converted(tmp_path):
    path = write(tmp_path, "a I-PER\nb I-PER\nc B-PER\nd O\ne I-LOC\n")
    assert read_conll(path, scheme="iob1")[0].labels == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]


def test_empty_or_missing_file(tmp_path):
    with pytest.raises(LmlabError, match="no sentences"):
        read_conll(write(tmp_path, "-DOCSTART- O\n\n"))
    with pytest.raises(LmlabError, match="does not exist"):
        read_conll(tmp_path / "none.conll")


def test_write_reads_back(tmp_path):
    sents = [(["a", "b"], ["B-X", "I-X"]), (["c"], ["O"])]
    write_conll(tmp_path / "w.conll", sents)
    assert [(s.words, s.labels) for s in read_conll(tmp_path / "w.conll")] == sents


def test_split_is_seeded_and_complete():
    items = list(range(100))
    a = split_sentences(items, 0.1, 0.2, seed=3)
    assert a == split_sentences(items, 0.1, 0.2, seed=3) and [len(x) for x in a] == [70, 10, 20]
    assert sorted(a[0] + a[1] + a[2]) == items


def test_config_checks():
    with pytest.raises(ValueError, match="max_len"):
        NerDataConfig(max_len=2)
    with pytest.raises(ValueError, match="scheme"):
        NerDataConfig(scheme="bilou")


def test_split_words():
    text = "Perl (see /etc/hosts). don't use '%s': g++, libc6.1 e.g. --help"
    words = split_words(text)
    assert [w for w, _, _ in words] == ["Perl", "(", "see", "/etc/hosts", ")", ".", "don't", "use", "'", "%s", "'",
                                        ":", "g++", ",", "libc6.1", "e.g", ".", "--help"]
    assert all(text[a:b] == w for w, a, b in words)


def test_alignment_matches_hugging_face(tok):
    """Labels at each word's first piece, -100 elsewhere: what HF's token-classification examples compute."""
    from transformers import PreTrainedTokenizerFast
    hf = PreTrainedTokenizerFast(tokenizer_object=tok.tok)
    for s in read_conll(SAMPLE)[:40]:
        labels = list(range(len(s.words)))
        [chunk] = encode_sentence(s.words, tok, 512, labels)
        enc = hf(s.words, is_split_into_words=True)
        assert chunk["input_ids"] == enc["input_ids"]
        prev, expected = None, []
        for w in enc.word_ids():
            expected.append(IGNORE if w is None or w == prev else labels[w])
            prev = w
        assert chunk["labels"] == expected


def test_long_sentences_are_chunked_at_words(tok):
    words = "libstdc++6 bindings for the OCaml perl modules and python3 helpers".split()
    chunks = encode_sentence(words, tok, 8, list(range(len(words))))
    assert all(len(c["input_ids"]) <= 8 for c in chunks) and len(chunks) > 1
    assert [w for c in chunks for w in range(*c["words"])] == list(range(len(words)))  # every word, once
    firsts = [c["labels"][p] for c in chunks for p in c["first"]]
    assert firsts == list(range(len(words)))
    assert all(c["input_ids"][0] == tok.special_ids["cls"] and c["input_ids"][-1] == tok.special_ids["sep"]
               for c in chunks)
    [one] = encode_sentence(["x" * 40], tok, 4, [0])  # a word longer than the budget keeps its first pieces
    assert len(one["input_ids"]) == 4 and one["labels"] == [IGNORE, 0, IGNORE, IGNORE]
