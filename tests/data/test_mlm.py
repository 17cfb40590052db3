"""MLM masking: statistics on ~200k real WordPiece tokens, word/span structure, static vs dynamic, collator.

The statistical checks use seeded generators, so they are deterministic; their tolerances are set at
about 4 standard errors or more of the quantity checked (stated next to each)."""

from __future__ import annotations

import random

import pytest
import torch

from lmlab.data.mlm import (
    IGNORE_INDEX,
    MaskingConfig,
    MLMCollator,
    choose_spans,
    continuation_table,
    find_words,
    mask_tokens,
    random_token_ids,
    word_starts_from_word_ids,
)
from lmlab.errors import LmlabError

PAD, UNK, CLS, SEP, MASK = range(5)
SPECIAL_IDS = [PAD, UNK, CLS, SEP, MASK]
V = 1000


def _examples(ids: list[int], lengths: list[int]) -> list[dict]:
    """Consecutive stretches of the corpus as "[CLS] x [SEP] y [SEP]" examples of the given lengths."""
    out, pos = [], 0
    for i, n in enumerate(lengths):
        body = ids[pos: pos + n - 3]
        pos = (pos + n - 3) % (len(ids) - 600)
        half = len(body) // 2
        inp = [CLS, *body[:half], SEP, *body[half:], SEP]
        out.append({"input_ids": inp, "token_type_ids": [0] * (half + 2) + [1] * (len(body) - half + 1),
                    "index": i})
    return out


def _kinds(batch):
    """Per target: 'mask' if [MASK], 'random' if changed to another id, 'keep' if unchanged."""
    target = batch["labels"] != IGNORE_INDEX
    inp, lab = batch["input_ids"][target], batch["labels"][target]
    is_mask = inp == MASK
    is_random = ~is_mask & (inp != lab)
    return target, is_mask, is_random, ~is_mask & ~is_random


@pytest.fixture(scope="module")
def cont(mlm_wordpiece):
    return continuation_table(mlm_wordpiece.get_vocab())


def test_span_length_law_is_spanberts():
    probs = MaskingConfig(span_p=0.2, span_max=10).span_length_probs()
    assert probs.sum().item() == pytest.approx(1.0)
    mean = (torch.arange(1, 11) * probs).sum().item()
    assert mean == pytest.approx(3.797, abs=1e-3)  # the paper's "mean span length of 3.8"


def test_config_is_validated():
    with pytest.raises(LmlabError):
        MaskingConfig(strategy="sentence")
    with pytest.raises(LmlabError):
        MaskingConfig(mask_frac=0.8, random_frac=0.2, keep_frac=0.1)


def test_word_starts_from_wordpiece(mlm_wordpiece, cont):
    enc = mlm_wordpiece.encode("Whosoever contemplates the unbearable dishonour, speaks.")
    starts = ~cont[torch.tensor(enc.ids)]
    assert torch.equal(starts, word_starts_from_word_ids(enc.word_ids))
    assert starts.sum() < len(enc.ids)  # some words really are split into pieces


def test_random_replacements_avoid_special_ids():
    g = torch.Generator().manual_seed(0)
    r = random_token_ids(70_000, 10, [0, 3, 9], g)
    counts = torch.bincount(r, minlength=10)
    assert counts[[0, 3, 9]].sum() == 0
    # uniform over the 7 others: 10k each, sd ~93; 500 is > 5 sd
    assert (counts[[1, 2, 4, 5, 6, 7, 8]] - 10_000).abs().max() < 500


def test_token_masking_statistics(mlm_ids):
    """~200k tokens, varied lengths (so pads appear). Tolerances: masked fraction 0.15 +- 0.005
    (per example the count is exactly round(0.15 n), so only rounding remains); split of the ~30k
    targets 0.80 / 0.10 / 0.10 +- 0.01 (sd 0.0023 / 0.0017)."""
    rng = random.Random(0)
    examples = _examples(mlm_ids, [rng.randint(20, 200) for _ in range(1800)])
    collate = MLMCollator(MaskingConfig(), V, MASK, PAD, SPECIAL_IDS, seed=0)
    n_real = n_target = n_mask = n_random = n_keep = 0
    for i in range(0, len(examples), 100):
        batch = collate(examples[i: i + 100])
        target, is_mask, is_random, is_keep = _kinds(batch)
        real = batch["attention_mask"] == 1
        assert not (target & ~real).any()                                          # pads never targets
        assert not torch.isin(batch["labels"], torch.tensor(SPECIAL_IDS)).any()    # specials never targets
        n_real += int((real & ~torch.isin(batch["input_ids"], torch.tensor([CLS, SEP]))).sum())
        n_target += int(target.sum())
        n_mask += int(is_mask.sum())
        n_random += int(is_random.sum())
        n_keep += int(is_keep.sum())
    # n_real counted tokens after masking: a [MASK]/random replacement is never CLS/SEP, so it is exact
    assert n_real > 190_000
    assert abs(n_target / n_real - 0.15) < 0.005
    assert abs(n_mask / n_target - 0.80) < 0.01
    assert abs(n_random / n_target - 0.10) < 0.01
    assert abs(n_keep / n_target - 0.10) < 0.01


def test_whole_word_masking(mlm_ids, cont):
    """Every word is labelled entirely or not at all; fraction 0.15 +- 0.005 of the non-special tokens
    (the budget is exact per example unless no remaining word fits, which the greedy fill makes rare)."""
    cfg = MaskingConfig(strategy="whole_word")
    g = torch.Generator().manual_seed(1)
    n_tok = n_target = n_multi = n_mask = 0
    for ex in _examples(mlm_ids, [128] * 600):
        ids = torch.tensor(ex["input_ids"])
        special = torch.isin(ids, torch.tensor(SPECIAL_IDS))
        starts = ~cont[ids]
        inp, lab = mask_tokens(ids, special, starts, cfg, V, MASK, g, SPECIAL_IDS)
        target = lab != IGNORE_INDEX
        assert not (target & special).any()
        words = find_words(special, starts)
        for s, n in zip(words.start.tolist(), words.size.tolist()):
            k = int(target[s: s + n].sum())
            assert k in (0, n), "a word is partially labelled"
            n_multi += k > 1
        assert int(target.sum()) <= max(1, round(0.15 * int((~special).sum())))
        n_tok += int((~special).sum())
        n_target += int(target.sum())
        n_mask += int((inp[target] == MASK).sum())
    assert abs(n_target / n_tok - 0.15) < 0.005
    assert n_multi > 500  # multi-piece words are chosen, and whole
    assert abs(n_mask / n_target - 0.80) < 0.015  # 80/10/10 per piece, as Google's code


def test_span_masking(mlm_ids, cont):
    """Long examples (2048 tokens, a [SEP] in the middle) so that the one budget-cut span per example
    barely matters. Checks: spans are contiguous runs of whole words, never touch, never cross [SEP];
    their lengths follow SpanBERT's truncated Geometric(0.2) on 1..10 (mean 3.797 +- 0.1, sd of the
    sample mean ~0.03; chi-square over the 10 lengths < 27.9, the 0.1 % point for 9 dof); each span is
    corrupted as one unit; the targets are 0.15 +- 0.005 of the tokens.
    The histogram leaves out the ~2 % of spans cut by the budget; since long spans are the likelier
    to be cut, this lowers the sample mean by ~0.03-0.05 (seen: 3.75-3.77 over seeds 0-2, chi2 5-15)."""
    cfg = MaskingConfig(strategy="span")
    probs = cfg.span_length_probs()
    g = torch.Generator().manual_seed(2)
    hist = torch.zeros(11)
    n_tok = n_target = n_spans = n_cut = n_mask_spans = n_runs = 0
    for ex in _examples(mlm_ids, [2048] * 120):
        ids = torch.tensor(ex["input_ids"])
        special = torch.isin(ids, torch.tensor(SPECIAL_IDS))
        starts = ~cont[ids]
        spans = choose_spans(special, starts, cfg, g)
        # a piece right after a special token starts a word even if it is a "##" piece (cut text)
        word_start = starts.clone()
        word_start[1:] |= special[:-1]
        last = -1
        for sp in spans:
            assert sp.start > last + 1 or last == -1, "spans touch or overlap"
            assert not special[sp.start: sp.end].any()
            assert word_start[sp.start] and (sp.end == len(ids) or word_start[sp.end] or special[sp.end])
            assert 1 <= sp.n_words <= cfg.span_max
            assert int(word_start[sp.start: sp.end].sum()) == sp.n_words
            last = sp.end - 1
            if sp.truncated:
                n_cut += 1
            else:
                hist[sp.n_words] += 1
        n_spans += len(spans)
        n_tok += int((~special).sum())
        n_target += sum(sp.end - sp.start for sp in spans)
        # the corruption: each labelled run is one span, all [MASK] or none of it
        inp, lab = mask_tokens(ids, special, starts, cfg, V, MASK, g, SPECIAL_IDS)
        for s, e in _runs(lab != IGNORE_INDEX):
            m = inp[s:e] == MASK
            assert m.all() or not m.any(), "a span is partly [MASK]"
            n_mask_spans += bool(m.all())
            n_runs += 1
    assert n_cut < 0.05 * n_spans
    assert abs(n_target / n_tok - 0.15) < 0.005
    counts = hist[1:]
    n = counts.sum()
    mean = (torch.arange(1, 11) * counts).sum() / n
    assert abs(mean.item() - 3.797) < 0.1
    expected = n * probs.float()
    chi2 = (((counts - expected) ** 2) / expected).sum().item()
    assert chi2 < 27.9, (counts.tolist(), expected.tolist())
    assert abs(n_mask_spans / n_runs - 0.80) < 0.03  # ~7k spans: sd 0.005


def _runs(flags: torch.Tensor) -> list[tuple[int, int]]:
    """Maximal [s, e) stretches where flags is True."""
    out, start = [], None
    for i, f in enumerate(flags.tolist() + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i))
            start = None
    return out


def test_span_mask_labels_are_the_chosen_spans(mlm_ids, cont):
    """mask_tokens labels exactly the spans choose_spans draws from the same generator state."""
    cfg = MaskingConfig(strategy="span")
    ids = torch.tensor([CLS, *mlm_ids[:300], SEP])
    special = torch.isin(ids, torch.tensor(SPECIAL_IDS))
    starts = ~cont[ids]
    spans = choose_spans(special, starts, cfg, torch.Generator().manual_seed(5))
    _, lab = mask_tokens(ids, special, starts, cfg, V, MASK, torch.Generator().manual_seed(5), SPECIAL_IDS)
    assert _runs(lab != IGNORE_INDEX) == [(s.start, s.end) for s in spans]
    assert torch.equal(lab[lab != IGNORE_INDEX], torch.cat([ids[s.start:s.end] for s in spans]))


def test_short_and_degenerate_examples():
    cfg_s = MaskingConfig(strategy="span")
    ids = torch.tensor([CLS, 10, SEP])
    special = torch.tensor([True, False, True])
    for cfg in (MaskingConfig(), MaskingConfig(strategy="whole_word"), cfg_s):
        _, lab = mask_tokens(ids, special, None, cfg, V, MASK, torch.Generator().manual_seed(0), SPECIAL_IDS)
        assert lab.tolist() == [IGNORE_INDEX, 10, IGNORE_INDEX]  # at least one target when possible
        _, lab = mask_tokens(ids[[0, 2]], special[[0, 2]], None, cfg, V, MASK, None, SPECIAL_IDS)
        assert (lab == IGNORE_INDEX).all()  # nothing to mask


def test_static_vs_dynamic(mlm_ids):
    """Static (RoBERTa's "static" baseline): an example's mask depends only on (seed, index), whatever
    the epoch or batch; dynamic: a new mask each time the example is drawn."""
    examples = _examples(mlm_ids, [100] * 40)
    for strategy in ("token", "span"):
        static = MLMCollator(MaskingConfig(strategy=strategy, dynamic=False), V, MASK, PAD, SPECIAL_IDS, seed=3)
        dynamic = MLMCollator(MaskingConfig(strategy=strategy), V, MASK, PAD, SPECIAL_IDS, seed=3)
        epochs_static, epochs_dynamic = [], []
        for epoch in range(2):
            order = list(range(len(examples)))
            random.Random(epoch).shuffle(order)
            per_ex_s, per_ex_d = {}, {}
            for i in range(0, len(order), 8):
                chunk = [examples[j] for j in order[i: i + 8]]
                bs, bd = static(chunk), dynamic(chunk)
                for r, ex in enumerate(chunk):
                    per_ex_s[ex["index"]] = (bs["input_ids"][r], bs["labels"][r])
                    per_ex_d[ex["index"]] = bd["labels"][r]
            epochs_static.append(per_ex_s)
            epochs_dynamic.append(per_ex_d)
        for k in range(len(examples)):
            assert torch.equal(epochs_static[0][k][0], epochs_static[1][k][0])
            assert torch.equal(epochs_static[0][k][1], epochs_static[1][k][1])
        n_same = sum(torch.equal(epochs_dynamic[0][k], epochs_dynamic[1][k]) for k in range(len(examples)))
        assert n_same == 0


def test_static_needs_an_index():
    collate = MLMCollator(MaskingConfig(dynamic=False), V, MASK, PAD, SPECIAL_IDS)
    with pytest.raises(LmlabError, match="index"):
        collate([{"input_ids": [CLS, 10, 11, SEP]}])


def test_dynamic_state_resumes(mlm_ids):
    examples = _examples(mlm_ids, [60] * 8)
    a = MLMCollator(MaskingConfig(), V, MASK, PAD, SPECIAL_IDS, seed=7)
    a(examples)
    state = a.state_dict()
    expected = a(examples)["labels"]
    b = MLMCollator(MaskingConfig(), V, MASK, PAD, SPECIAL_IDS, seed=7)
    b.load_state_dict(state)
    assert torch.equal(b(examples)["labels"], expected)


def test_collator_pads_and_builds_masks():
    examples = [
        {"input_ids": [CLS, 10, 11, 12, SEP, 13, 14, SEP], "token_type_ids": [0, 0, 0, 0, 0, 1, 1, 1],
         "next_sentence_label": 1},
        {"input_ids": [CLS, 20, SEP, 21, SEP], "token_type_ids": [0, 0, 0, 1, 1], "next_sentence_label": 0},
    ]
    collate = MLMCollator(MaskingConfig(mask_prob=0.5), V, MASK, PAD, SPECIAL_IDS, seed=0)
    batch = collate(examples)
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels", "next_sentence_label"}
    assert all(t.dtype == torch.long for t in batch.values())
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"].tolist() == [[1] * 8, [1] * 5 + [0] * 3]
    assert batch["input_ids"][1, 5:].tolist() == [PAD] * 3
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0, 0]]
    assert (batch["labels"][1, 5:] == IGNORE_INDEX).all()
    assert batch["next_sentence_label"].tolist() == [1, 0]
    for b, ex in enumerate(examples):
        lab = batch["labels"][b]
        target = lab != IGNORE_INDEX
        assert target.sum() == round(0.5 * (len(ex["input_ids"]) - 3))  # non-special tokens only
        assert torch.equal(lab[target], torch.tensor(ex["input_ids"])[target[: len(ex["input_ids"])]])
    # no segment ids and no pair label given: zeros and no label key
    plain = collate([{"input_ids": [CLS, 10, SEP]}, {"input_ids": [CLS, 10, 11, 12, SEP]}])
    assert "next_sentence_label" not in plain and (plain["token_type_ids"] == 0).all()
