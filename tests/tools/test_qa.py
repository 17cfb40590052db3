"""Post-processing: the best span of a window, the best over windows, whole words, unanswerable questions."""

from __future__ import annotations

import torch

from lmlab.data.qa import QADataConfig, encode_context
from lmlab.data.tokenizers import train_wordpiece
from lmlab.tools.qa import best_answers, window_spans

CONTEXT = "libfoo-dev depends on libfoo1 and zlib1g. Section: libdevel; priority optional."


def _feature(example=0, first=0, n=8, offset=4):
    return {"example": example, "offset": offset, "first": first, "n": n}


def _logits(T, start_at, end_at, high=8.0):
    start, end = torch.zeros(T), torch.zeros(T)
    start[start_at], end[end_at] = high, high
    return start, end


def test_the_peak_span_and_its_constraints():
    f = _feature()
    spans, _ = window_spans(*_logits(13, 6, 8), f, max_answer_len=30, top_k=3)
    assert spans[0][1:] == (2, 4)                                   # context tokens: position − offset + first
    spans, _ = window_spans(*_logits(13, 8, 6), f, max_answer_len=30, top_k=50)
    assert all(s <= e for _, s, e in spans)                        # never an end before its start
    spans, _ = window_spans(*_logits(13, 6, 11), f, max_answer_len=3, top_k=50)
    assert all(e - s < 3 for _, s, e in spans)                      # never longer than max_answer_len tokens
    start, end = _logits(13, 2, 2, high=50.0)                       # a peak on the question: never chosen
    assert all(4 <= s + 4 < 12 for _, s, _ in window_spans(start, end, f, 30, 5)[0])


def test_best_over_windows_whole_words_and_no_answer():
    tok = train_wordpiece(CONTEXT * 3, vocab_size=80)
    ctx = encode_context(tok, CONTEXT)
    ex, n = {"context": CONTEXT}, len(ctx.ids)
    half = n // 2
    # two windows: a weak peak on token 1 in the first, a strong one on token half + 1 in the second
    f1, f2 = _feature(first=0, n=half + 2), _feature(first=half, n=n - half)
    weak, strong = _logits(f1["n"] + 5, 4 + 1, 4 + 1, high=3.0), _logits(f2["n"] + 5, 4 + 1, 4 + 1, high=9.0)
    [[best]] = best_answers([ex], [f1, f2], [weak, strong], {CONTEXT: ctx}, QADataConfig(max_len=64))
    assert (best["start"], best["end"]) == ctx.word_span[ctx.word_of[half + 1]] and best["score"] > 0.5
    assert best["answer"] == CONTEXT[best["start"]:best["end"]]
    inner = next(i for i, p in enumerate(tok.tokens(ctx.ids)) if p.startswith("##"))   # a piece inside a word
    [[wide]] = best_answers([ex], [_feature(first=0, n=n)], [_logits(n + 5, 4 + inner, 4 + inner, high=12.0)],
                            {CONTEXT: ctx}, QADataConfig(max_len=64))
    assert (wide["start"], wide["end"]) == ctx.word_span[ctx.word_of[inner]]           # widened to its whole word
    assert ctx.offsets[inner][0] > wide["start"]
    # a window that begins inside that word widens only to the word's part inside it (the pipeline's word_to_chars)
    [[cut]] = best_answers([ex], [_feature(first=inner, n=n - inner)], [_logits(n - inner + 5, 4, 4, high=12.0)],
                           {CONTEXT: ctx}, QADataConfig(max_len=64))
    assert (cut["start"], cut["end"]) == (ctx.offsets[inner][0], wide["end"])
    start, end = torch.zeros(n + 5), torch.zeros(n + 5)
    start[0] = end[0] = 12.0                                                            # [CLS] sure: no answer
    v2 = QADataConfig(max_len=64, unanswerable=True)
    assert best_answers([ex], [_feature(first=0, n=n)], [(start, end)], {CONTEXT: ctx}, v2)[0][0]["answer"] == ""
