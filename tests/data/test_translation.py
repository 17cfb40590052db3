"""Parallel corpora: reading TSV/JSONL with clear errors, the split, token-count batches, padding, resume.

tests/data/messages_en_zh_1000.tsv: 1,000 pairs, a seeded sample (random.Random(0)) of
../shared/data/mt/messages.en-zh.tsv (gettext catalogs of GNU coreutils, tar, apt, dpkg, … GPL/LGPL).
"""

import json
import random
from pathlib import Path

import pytest
import torch

from lmlab.data.translation import (
    Example,
    Pair,
    TokenBatches,
    collate,
    read_parallel,
    split_pairs,
    token_batches,
)
from lmlab.errors import LmlabError

DATA = Path(__file__).parent / "messages_en_zh_1000.tsv"


def test_reads_the_tsv_header_and_keeps_quotes_and_placeholders():
    pairs, src, tgt = read_parallel(DATA)
    assert (src, tgt, len(pairs)) == ("en", "zh", 1000)
    assert any('"' in p.src for p in pairs) and any("%s" in p.src and "%s" in p.tgt for p in pairs)
    reverse, src, tgt = read_parallel(DATA, source="zh", target="en")
    assert (src, tgt) == ("zh", "en") and reverse[0] == Pair(pairs[0].tgt, pairs[0].src)


def test_reads_jsonl(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"de": "Hallo", "en": "Hello"}\n\n{"de": "Welt", "en": "world"}\n{"de": "a", "en": "b"}\n')
    pairs, src, tgt = read_parallel(path)
    assert (src, tgt) == ("de", "en") and pairs[1] == Pair("Welt", "world")


@pytest.mark.parametrize("text,name,needle", [
    ("en\tzh\nhello\t你好\nbroken line\n", "x.tsv", "x.tsv:3: has 1 tab-separated field"),
    ("en\tzh\nhello\t \na\tb\nc\td\n", "x.tsv", "x.tsv:2: 'zh' is empty"),
    ('{"en": "a", "zh": "b"}\n[1, 2]\n', "x.jsonl", "x.jsonl:2: not a JSON object"),
    ('{"en": "a", "zh": "b"}\n{"en": "a"\n', "x.jsonl", "x.jsonl:2: not a JSON object"),
    ('{"en": "a", "zh": "b"}\n{"en": "c"}\n{"en": "a", "zh": "b"}\n', "x.jsonl", "x.jsonl:2: has no 'zh'"),
    ("en\tzh\na\tb\n", "x.tsv", "holds 1 pair"),
    ("a,b\n", "x.csv", "unknown format '.csv'"),
])
def test_malformed_input_is_named_with_its_line(tmp_path, text, name, needle):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LmlabError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        read_parallel(path)


def test_unknown_column_is_refused():
    with pytest.raises(LmlabError, match="no column 'fr'.*en, zh, source"):
        read_parallel(DATA, target="fr")


def test_split_is_seeded_and_never_shares_a_source_sentence():
    pairs = [Pair(f"s{i % 300}", f"t{i}") for i in range(600)]            # every source twice
    train, val, test = split_pairs(pairs, 50, 50, seed=3)
    assert (train, val, test) == split_pairs(pairs, 50, 50, seed=3)
    assert len(train) + len(val) + len(test) == 600 and len(test) >= 50 and len(val) >= 50
    srcs = [{p.src for p in part} for part in (train, val, test)]
    assert not (srcs[0] & srcs[1] or srcs[0] & srcs[2] or srcs[1] & srcs[2])
    assert split_pairs(pairs, 50, 50, seed=4)[2] != test
    with pytest.raises(LmlabError, match="too few"):
        split_pairs(pairs[:10], 5, 5, seed=0)


def test_collate_pads_both_sides_and_shifts_the_target():
    batch = collate([Example([5, 6, 7, 1], [8, 9, 1]), Example([5, 1], [4, 1])], pad_id=0, bos_id=2)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 1], [5, 1, 0, 0]]
    assert batch["attention_mask"].tolist() == [[True] * 4, [True, True, False, False]]
    assert batch["decoder_input_ids"].tolist() == [[2, 8, 9], [2, 4, 0]]          # BOS y_1 … y_{T-1}
    assert batch["labels"].tolist() == [[8, 9, 1], [4, 1, -100]]                  # y_1 … y_T EOS
    assert batch["decoder_attention_mask"].tolist() == [[True] * 3, [True, True, False]]


def test_token_batches_respect_the_budget_and_cover_every_example_once():
    g = random.Random(0)
    examples = [Example([1] * g.randint(2, 40), [1] * g.randint(2, 40)) for _ in range(500)]
    batches = token_batches(examples, 256, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(500))
    size = lambda i: max(len(examples[i].src), len(examples[i].tgt))
    assert all(len(b) * max(size(i) for i in b) <= 256 for b in batches)
    padded = sum(len(b) * max(size(i) for i in b) for b in batches)
    assert sum(size(i) for i in range(500)) / padded > 0.9      # length bucketing: little padding
    assert batches != token_batches(examples, 256, random.Random(2))


def test_batches_resume_where_they_left_off_and_shard_across_processes():
    examples = [Example([1] * (2 + i % 30), [1] * (2 + i % 17)) for i in range(300)]
    a = TokenBatches(examples, 200, 0, 0, seed=1)
    for _ in range(40):                                          # past the end of the first epoch
        a.next()
    b = TokenBatches(examples, 200, 0, 0, seed=1)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert a.epoch == 1
    for _ in range(5):
        x, y = a.next(), b.next()
        assert all(torch.equal(x[k], y[k]) for k in x)
    r0, r1 = TokenBatches(examples, 200, 0, 0, 1, rank=0, world_size=2), TokenBatches(examples, 200, 0, 0, 1, 1, 2)
    assert len(r0._batches) == len(r1._batches) and not set(map(tuple, r0._batches)) & set(map(tuple, r1._batches))
