"""Autoregressive sampling: feed the sequence, take the last position's logits, pick, append, repeat.

Processors applied in Hugging Face's order: temperature, then top-k, then top-p (nucleus:
keep the smallest set of most likely tokens whose probability mass reaches p; Holtzman et
al. 2020). temperature 0 means greedy. This is the simple full-recompute loop; the KV-cache
engine lives beside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0) -> torch.Tensor:
    """logits (B, V) -> processed logits (B, V); removed tokens get -inf."""
    logits = logits / temperature
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # drop a token when the mass before it already reaches p (the first token always stays)
        drop_sorted = (cum - torch.softmax(sorted_logits, dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


@torch.no_grad()
def sample(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int = 0,
           top_p: float = 1.0, generator: torch.Generator | None = None,
           context: int | None = None) -> Iterator[torch.Tensor]:
    """Yield the next token ids (B,) one step at a time; idx (B, T) is the prompt."""
    context = context or model.cfg.max_seq_len
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            logits = model(idx[:, -context:])[:, -1, :].float()  # (B, V)
            if temperature == 0:
                nxt = logits.argmax(dim=-1)
            else:
                probs = torch.softmax(filter_logits(logits, temperature, top_k, top_p), dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            idx = torch.cat([idx, nxt[:, None]], dim=1)
            yield nxt
    finally:
        model.train(was_training)


def decode_stream(tokenizer, ids: Iterator[int]) -> Iterator[str]:
    """Yield the new text as token ids arrive; a character whose UTF-8 bytes are split across byte-level
    tokens is held back until its last byte comes (bytes that never form a character show as U+FFFD)."""
    new: list[int] = []
    shown = ""
    for tok in ids:
        new.append(int(tok))
        text = tokenizer.decode(new)
        if text.endswith("\ufffd"):  # possibly an incomplete multi-byte character: wait for the rest
            continue
        yield text[len(shown):]
        shown = text
    text = tokenizer.decode(new)
    if len(text) > len(shown):
        yield text[len(shown):]


def stream_text(model, tokenizer, prompt_ids: list[int], max_new_tokens: int, **kw) -> Iterator[str]:
    """Sample from `model` and yield decoded text pieces as tokens arrive."""
    device = next(model.parameters()).device
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    yield from decode_stream(tokenizer, (int(t[0]) for t in sample(model, idx, max_new_tokens, **kw)))
