"""Pooling: one vector per sequence from the hidden states of its tokens (sentence embeddings).

An encoder gives a vector per token, hidden (B, T, C); a sentence embedding is one vector (B, C).
Two common ways to get it, both as sentence-transformers (Reimers & Gurevych 2019) computes them:

- mean pooling: the average of the token vectors, over real tokens only (attention_mask = 1).
  [CLS] and [SEP] count as tokens; padding does not, so a sentence gets the same vector alone or
  padded inside a batch. Sentence-BERT found it the best of the simple choices.
- [CLS] pooling: the hidden state of the first real token, BERT's [CLS]. Pretraining trains it only
  through the sentence task (NSP/SOP), so without fine-tuning it is a weak sentence vector; models
  fine-tuned for it (many retrieval models) use it.

`l2_normalize` makes every vector unit length, so that a dot product is the cosine similarity.
No learned weights here (BERT's pooler, dense + tanh on [CLS], is `BertPooler`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POOLINGS = ("mean", "cls")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """hidden (B, T, C), attention_mask (B, T) with 1 = real token, 0 = padding -> (B, C): the mean of
    the real tokens' vectors. A row with no real token gives zeros (not 0/0 = nan)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)                 # (B, T, 1)
    total = (hidden * mask).sum(dim=1)                                   # (B, C)
    count = mask.sum(dim=1).clamp(min=1e-9)                              # (B, 1) real tokens per row
    return total / count


def cls_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """hidden (B, T, C) -> (B, C): the vector of the first real token ([CLS]). That is position 0 with
    padding on the right; with padding on the left it is the first position where attention_mask = 1."""
    if attention_mask is None:
        return hidden[:, 0]
    first = attention_mask.to(torch.int).argmax(dim=1)                   # (B,) index of the first 1
    return hidden[torch.arange(hidden.size(0), device=hidden.device), first]


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """`mean_pool` or `cls_pool` by name (one of POOLINGS)."""
    if how == "mean":
        return mean_pool(hidden, attention_mask)
    if how == "cls":
        return cls_pool(hidden, attention_mask)
    raise ValueError(f"unknown pooling {how!r}; choose one of {', '.join(POOLINGS)}")


def l2_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """x / ||x||₂ along the last dimension (a zero vector stays zero): unit vectors, dot = cosine."""
    return F.normalize(x, p=2, dim=-1, eps=eps)
