"""Multi-head → grouped-query attention by mean-pooling key/value heads (Ainslie et al. 2023, §2.1).

GQA shares one key/value head among a group of G = n_heads / n_kv_heads query heads. The paper
turns a trained multi-head checkpoint into a GQA one by averaging the key and value projection
matrices of the heads in each group (better than keeping one head or random init), then
"uptrains" briefly. Query head h uses kv head h // G, the grouping MultiHeadAttention applies.
"""

from __future__ import annotations

import torch

from lmlab.nn.attention import MultiHeadAttention


def _pool(t: torch.Tensor, n_heads: int, n_kv_heads: int) -> torch.Tensor:
    """(H·D, …) rows of H heads -> (H_kv·D, …): the mean over each group of H / H_kv consecutive heads."""
    rows = t.view(n_kv_heads, n_heads // n_kv_heads, -1, *t.shape[1:])  # (H_kv, G, D, …)
    return rows.mean(dim=1).reshape(-1, *t.shape[1:])


@torch.no_grad()
def pool_kv_heads_(attn: MultiHeadAttention, n_kv_heads: int) -> None:
    """Shrink attn's k_proj and v_proj in place from its current kv heads to n_kv_heads."""
    if attn.n_kv_heads != attn.n_heads:
        raise ValueError(f"the attention already has {attn.n_kv_heads} kv heads; convert from multi-head only")
    if n_kv_heads < 1 or attn.n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads ({n_kv_heads}) must divide n_heads ({attn.n_heads})")
    for proj in (attn.k_proj, attn.v_proj):
        proj.weight = torch.nn.Parameter(_pool(proj.weight, attn.n_heads, n_kv_heads))
        if proj.bias is not None:
            proj.bias = torch.nn.Parameter(_pool(proj.bias, attn.n_heads, n_kv_heads))
        proj.out_features = proj.weight.size(0)
    attn.n_kv_heads = n_kv_heads
