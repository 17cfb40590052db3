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


def stream_text(model, tokenizer, prompt_ids: list[int], max_new_tokens: int, **kw) -> Iterator[str]:
    """Yield decoded text pieces as tokens arrive; bytes of a split UTF-8 character are held back."""
    device = next(model.parameters()).device
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    new: list[int] = []
    shown = ""
    for tok in sample(model, idx, max_new_tokens, **kw):
        new.append(int(tok[0]))
        text = tokenizer.decode(new)
        if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the rest
            continue
        yield text[len(shown):]
        shown = text
