"""From start/end scores to answers: the best spans over a context's windows, as text with character offsets.

Post-processing as Hugging Face's question-answering pipeline does it (transformers 4.x; its pieces
`select_starts_ends` and `decode_spans` survive in transformers 5's document-QA pipeline): in each window the
start and end logits of the tokens that may hold an answer — the context tokens, and [CLS] — go through a
softmax each; a span (s, e) of context tokens with s ≤ e < s + max_answer_len scores p_start(s) · p_end(e);
the best spans over all windows win, and each is widened to whole words (a span starting inside a word starts
at the word) and cut from the context by the tokens' character offsets. The widening stays inside the window,
as the pipeline's `word_to_chars` on an overflowing encoding does: a window that begins inside "libplexus"
at its token "##us" widens that token to "us" alone. With unanswerable questions (SQuAD
v2), "no answer" scores p_start([CLS]) · p_end([CLS]) at its lowest over the windows and competes.
"""

from __future__ import annotations

import torch

from lmlab.data.qa import Context, QADataConfig, eval_batches, qa_features
from lmlab.runs.run import Run


@torch.no_grad()
def span_logits(model, features: list[dict], batch_size: int, pad_id: int,
                device: torch.device | str = "cpu") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(start, end) logits of each feature, cut to its own length, on the CPU."""
    model.eval()
    out = []
    for batch in eval_batches(features, batch_size, pad_id):
        start, end = model(batch["input_ids"].to(device), batch["token_type_ids"].to(device),
                           batch["attention_mask"].to(device))
        for i, n in enumerate(batch["attention_mask"].sum(1).tolist()):
            out.append((start[i, :n].float().cpu(), end[i, :n].float().cpu()))
    return out


def window_spans(start: torch.Tensor, end: torch.Tensor, feature: dict, max_answer_len: int,
                 top_k: int) -> tuple[list[tuple[float, int, int]], float]:
    """([(score, first context token, last context token), …] best first, the [CLS] "no answer" score)."""
    lo, hi = feature["offset"], feature["offset"] + feature["n"]            # context tokens: [lo, hi)
    keep = torch.zeros_like(start, dtype=torch.bool)
    keep[lo:hi] = True
    keep[0] = True                                                          # [CLS] joins the softmax
    p_start = torch.where(keep, start, torch.tensor(-10000.0)).softmax(-1)  # the pipeline's masking constant
    p_end = torch.where(keep, end, torch.tensor(-10000.0)).softmax(-1)
    null = (p_start[0] * p_end[0]).item()
    scores = p_start[lo:hi, None] * p_end[None, lo:hi]                      # (n, n): span (s, e)
    s_idx = torch.arange(feature["n"])
    allowed = (s_idx[None] >= s_idx[:, None]) & (s_idx[None] - s_idx[:, None] < max_answer_len)
    flat = torch.where(allowed, scores, torch.tensor(-1.0)).flatten()
    best = flat.topk(min(top_k, flat.numel()))
    n = feature["n"]
    spans = [(v, feature["first"] + i // n, feature["first"] + i % n)
             for v, i in zip(best.values.tolist(), best.indices.tolist()) if v >= 0]
    return spans, null


def to_text(ctx: Context, first: int, last: int, window: tuple[int, int] | None = None) -> tuple[str, int, int]:
    """(text, start char, end char) of context tokens first … last, widened to whole words — to the parts of
    them inside `window` = (first token, end token) when given."""
    lo, hi = window or (0, len(ctx.ids))
    while first > lo and ctx.word_of[first - 1] == ctx.word_of[first]:
        first -= 1
    while last + 1 < hi and ctx.word_of[last + 1] == ctx.word_of[last]:
        last += 1
    a, b = ctx.offsets[first][0], ctx.offsets[last][1]
    return ctx.text[a:b], a, b


def best_answers(examples: list[dict], features: list[dict], logits: list, contexts: dict[str, Context],
                 cfg: QADataConfig, top_k: int = 1) -> list[list[dict]]:
    """For each example, its `top_k` answers {"answer", "score", "start", "end"} over all its windows, best
    first (the same text found in two windows counts once, at its best score)."""
    found: list[dict[tuple[int, int], dict]] = [{} for _ in examples]
    null = [1.0] * len(examples)
    for f, (start, end) in zip(features, logits):
        spans, no_answer = window_spans(start, end, f, cfg.max_answer_len, top_k)
        k = f["example"]
        null[k] = min(null[k], no_answer)
        ctx = contexts[examples[k]["context"]]
        for score, first, last in spans:
            text, a, b = to_text(ctx, first, last, (f["first"], f["first"] + f["n"]))
            if (a, b) not in found[k] or found[k][(a, b)]["score"] < score:
                found[k][(a, b)] = {"answer": text, "score": score, "start": a, "end": b}
    out = []
    for k in range(len(examples)):
        ranked = list(found[k].values())
        if cfg.unanswerable:
            ranked.append({"answer": "", "score": null[k], "start": 0, "end": 0})
        out.append(sorted(ranked, key=lambda x: -x["score"])[:top_k])
    return out


def answer_questions(model, tok, examples: list[dict], cfg: QADataConfig, top_k: int = 1, batch_size: int = 32,
                     device: torch.device | str = "cpu") -> list[list[dict]]:
    """The `top_k` best answers to each {"question", "context", …} (see best_answers)."""
    features, contexts = qa_features(examples, tok, cfg, labels=False)
    logits = span_logits(model, features, batch_size, tok.special_ids.get("pad", 0), device)
    return best_answers(examples, features, logits, contexts, cfg, top_k)


def load_qa(path) -> tuple:
    """(model in eval mode, tokenizer, its QADataConfig) of a `lmlab finetune qa` run."""
    run = Run.open(path, family="bert-qa", command="answer")
    return run.model().eval(), run.tokenizer(), run.config("data")
