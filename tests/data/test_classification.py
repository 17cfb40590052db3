"""Classification data: CSV / TSV / JSONL reading and its errors, the seeded stratified split, and the
long-text strategies (head, tail, head+tail with the notes' 128 + 382 / 256 + 254, sliding windows)
with their exact token layouts; windows' logits pooled per text."""

from __future__ import annotations

import json

import pytest
import torch

from lmlab.data.classification import (
    ClassificationDataConfig,
    SequenceBatches,
    collate,
    doc_batches,
    encode_examples,
    head_tail_sizes,
    keep_labels,
    label_vocab,
    pool_logits,
    read_examples,
    split_examples,
    truncate,
    window_starts,
)
from lmlab.errors import LmlabError

CLS, SEP, PAD = 2, 3, 0


class WordTokenizer:
    """Token id = 100 + the word's number: "w7" -> 107; the layouts below read off directly."""
    special_ids = {"pad": PAD, "unk": 1, "cls": CLS, "sep": SEP, "mask": 4}

    def encode(self, text: str) -> list[int]:
        return [100 + int(w[1:]) for w in text.split()]


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + n))


# ---- reading ---------------------------------------------------------------------------------------
def test_reads_csv_tsv_and_jsonl(tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"hello, world",pos\nbad day,neg\n', encoding="utf-8")
    (tmp_path / "a.tsv").write_text("sentence\tlabel\tq\nhello world\tpos\tx\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "hi\nthere", "label": 3}) + "\n\n"
                                      + json.dumps({"text": "yo", "label": 4}) + "\n", encoding="utf-8")
    assert read_examples(tmp_path / "a.csv") == [{"text": "hello, world", "pair": None, "label": "pos"},
                                                 {"text": "bad day", "pair": None, "label": "neg"}]
    assert read_examples(tmp_path / "a.tsv", text_column="sentence", pair_column="q") == \
        [{"text": "hello world", "pair": "x", "label": "pos"}]
    rows = read_examples(tmp_path / "a.jsonl")
    assert [r["label"] for r in rows] == ["3", "4"] and rows[0]["text"] == "hi\nthere"


def test_reading_errors(tmp_path):
    with pytest.raises(LmlabError, match="does not exist"):
        read_examples(tmp_path / "nope.csv")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(LmlabError, match="give a .csv, .tsv, .jsonl or .json file"):
        read_examples(tmp_path / "a.txt")
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(LmlabError, match="holds no rows"):
        read_examples(tmp_path / "empty.csv")
    (tmp_path / "b.csv").write_text("review,stars\ngood,5\n")
    with pytest.raises(LmlabError, match="no column 'text', 'label'.*columns: review, stars"):
        read_examples(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("text,label\n ,5\nx,\n")
    with pytest.raises(LmlabError, match="c.csv:2: 'text' is empty; .*--skip-bad"):
        read_examples(tmp_path / "c.csv")
    with pytest.raises(LmlabError, match="no row has both"):
        read_examples(tmp_path / "c.csv", skip_bad=True)
    (tmp_path / "d.jsonl").write_text('{"text": "a", "label": 1}\n[1, 2]\n')
    with pytest.raises(LmlabError, match="d.jsonl:2: not a JSON object"):
        read_examples(tmp_path / "d.jsonl")


def test_labels_and_split():
    examples = [{"text": f"t{i}", "pair": None, "label": "ab"[i % 2] if i < 40 else "c"} for i in range(50)]
    assert label_vocab(examples) == ["a", "b", "c"]
    with pytest.raises(LmlabError, match="at least 2 labels"):
        label_vocab(examples[40:])
    assert {e["label"] for e in keep_labels(examples, "a, c")} == {"a", "c"}
    with pytest.raises(LmlabError, match="label.*zzz not in the data"):
        keep_labels(examples, "a,zzz")
    train, val, test = split_examples(examples, 0.1, 0.2, seed=0)
    assert sorted(e["text"] for e in train + val + test) == sorted(e["text"] for e in examples)
    # stratified: per label round(n·fraction), at least one; the 10-row class "c" reaches every part
    assert [sum(e["label"] == lab for e in test) for lab in "abc"] == [4, 4, 2]
    assert [sum(e["label"] == lab for e in val) for lab in "abc"] == [2, 2, 1]
    assert split_examples(examples, 0.1, 0.2, seed=0) == (train, val, test)
    assert split_examples(examples, 0.1, 0.2, seed=1) != (train, val, test)


# ---- long texts ------------------------------------------------------------------------------------
def test_head_tail_follows_the_notes_numbers():
    assert head_tail_sizes(600, 512) == (128, 382)        # ≤ 800 tokens: the first 128 + the last 382
    assert head_tail_sizes(800, 512) == (128, 382)
    assert head_tail_sizes(801, 512) == (256, 254)        # > 800 tokens: 256 + 254
    assert head_tail_sizes(510, 512) == (510, 0)          # fits: nothing cut
    assert head_tail_sizes(150, 128) == (32, 94) and head_tail_sizes(201, 128) == (64, 62)


def test_the_four_strategies_exact_layouts():
    ids = list(range(10))
    assert truncate(ids, 6, "head") == [[0, 1, 2, 3]]
    assert truncate(ids, 6, "tail") == [[6, 7, 8, 9]]
    # max_len 6 keeps 4 tokens; the notes' 800 scales to round(800/512·6) = 9: a 9-token text keeps
    # h = 6 // 4 = 1 and t = 3, a 10-token one h = 6 // 2 = 3 and t = 1
    assert truncate(ids[:9], 6, "head+tail") == [[0, 6, 7, 8]]
    assert truncate(ids, 6, "head+tail") == [[0, 1, 2, 9]]
    assert truncate(ids, 6, "sliding-window", stride=3) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert truncate(ids, 6, "sliding-window") == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]
    for strategy in ("head", "tail", "head+tail", "sliding-window"):  # a short text is never cut
        assert truncate([5, 6], 6, strategy) == [[5, 6]]
    big = list(range(1000))
    ht = truncate(big, 512, "head+tail")[0]
    assert len(ht) == 510 and ht[:256] == big[:256] and ht[256:] == big[-254:]


def test_sliding_window_count():
    for n in range(1, 40):
        for size, stride in [(4, 2), (5, 3), (8, 8)]:
            starts = window_starts(n, size, stride)
            assert len(starts) == 1 + -(-max(0, n - size) // stride)
            assert starts[-1] + size >= n and (len(starts) == 1 or starts[-2] + size < n)


def test_encoded_sequences_carry_cls_sep_and_the_text_index():
    examples = [{"text": words(10), "pair": None, "label": "b"}, {"text": words(3), "pair": None, "label": "a"}]
    tok, vocab = WordTokenizer(), ["a", "b"]
    seqs = encode_examples(examples, tok, vocab, ClassificationDataConfig(max_len=6, truncation="head+tail"))
    assert seqs[0] == {"input_ids": [CLS, 100, 101, 102, 109, SEP], "token_type_ids": [0] * 6, "label": 1, "doc": 0}
    assert seqs[1]["input_ids"] == [CLS, 100, 101, 102, SEP] and seqs[1]["doc"] == 1
    cfg = ClassificationDataConfig(max_len=6, truncation="sliding-window", stride=3)
    seqs = encode_examples(examples, tok, vocab, cfg)
    assert [s["input_ids"] for s in seqs] == [[CLS, 100, 101, 102, 103, SEP], [CLS, 103, 104, 105, 106, SEP],
                                              [CLS, 106, 107, 108, 109, SEP], [CLS, 100, 101, 102, SEP]]
    assert [s["doc"] for s in seqs] == [0, 0, 0, 1] and [s["label"] for s in seqs] == [1, 1, 1, 0]
    tail = encode_examples(examples, tok, vocab, ClassificationDataConfig(max_len=6, truncation="tail"))
    assert tail[0]["input_ids"] == [CLS, 106, 107, 108, 109, SEP]


def test_windows_are_pooled_per_text():
    logits = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0], [2.0, 2.0]])
    doc = torch.tensor([0, 0, 1, 0])
    assert torch.equal(pool_logits(logits, doc), torch.tensor([[2.0, 4 / 3], [0.0, 5.0]]))
    seqs = [{"input_ids": [CLS, 5, SEP], "token_type_ids": [0] * 3, "label": lab, "doc": d}
            for d, lab in [(7, 1), (7, 1), (7, 1), (8, 0), (9, 1), (9, 1)]]
    batches = doc_batches(seqs, batch_size=4, pad_id=PAD)
    assert [b["doc"].tolist() for b in batches] == [[0, 0, 0, 1], [0, 0]]      # a text is never split
    assert [b["labels"].tolist() for b in batches] == [[1, 0], [1]]             # one label per text


def test_collate_pads_and_batches_resume():
    seqs = [{"input_ids": [CLS, 5, SEP], "token_type_ids": [0, 0, 0], "label": 1, "doc": 0},
            {"input_ids": [CLS, SEP], "token_type_ids": [0, 0], "label": 0, "doc": 1}]
    b = collate(seqs, PAD)
    assert b["input_ids"].tolist() == [[CLS, 5, SEP], [CLS, SEP, PAD]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]] and b["labels"].tolist() == [1, 0]
    many = [{**seqs[0], "input_ids": [CLS, i, SEP], "doc": i} for i in range(30)]
    x, y = SequenceBatches(many, 4, PAD, seed=3), SequenceBatches(many, 4, PAD, seed=0)
    x.next()
    y.load_state_dict(x.state_dict())
    assert torch.equal(x.next()["input_ids"], y.next()["input_ids"])


def test_config_checks():
    with pytest.raises(ValueError, match="truncation must be one of"):
        ClassificationDataConfig(truncation="middle")
    with pytest.raises(ValueError, match="stride"):
        ClassificationDataConfig(max_len=10, stride=9)
    with pytest.raises(ValueError, match="pairs"):
        ClassificationDataConfig(pair_column="q", truncation="tail")
