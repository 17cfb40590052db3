"""Attention maps: which source tokens each target token looked at (cross-attention), as a picture.

The attention kernels never return their weights (the fused ones never even form them), so the
weights are recomputed from what the attention module received: a forward pre-hook records the
module's input x and memory in one teacher-forced pass, and softmax(Q Kᵀ / √D) over the real
source tokens follows from its own projections (Vaswani et al. 2017, eq. 1). Rows: target
positions; columns: source positions; each row sums to 1.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lmlab.io.atomic import atomic_write
from lmlab.train.fonts import font_families, missing_glyphs, quiet_glyphs


@torch.no_grad()
def attention_weights(attn, run) -> torch.Tensor:
    """Weights (B, H, T, S) of MultiHeadAttention `attn` during `run()` (its first call there)."""
    return layer_attention_weights([attn], run)[0]


@torch.no_grad()
def layer_attention_weights(attns, run) -> list[torch.Tensor]:
    """Weights (B, H, T, S) of each MultiHeadAttention in `attns` during one `run()` (each one's first call):
    every layer of an encoder from a single forward pass."""
    seen: list[dict] = [{} for _ in attns]

    def recorder(store: dict):
        def hook(module, args, kwargs):
            if not store:
                store["x"] = args[0]
                store["memory"] = args[1] if len(args) > 1 else kwargs.get("memory")
                store["mask"] = kwargs.get("key_padding_mask")
        return hook

    handles = [attn.register_forward_pre_hook(recorder(store), with_kwargs=True) for attn, store in zip(attns, seen)]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return [_weights(attn, store) for attn, store in zip(attns, seen)]


def _weights(attn, seen: dict) -> torch.Tensor:
    """softmax(Q Kᵀ / √D) from the module's own projections of its recorded inputs: (B, H, T, S)."""
    x, memory = seen["x"], seen["memory"] if seen["memory"] is not None else seen["x"]
    B, T, _ = x.shape
    q = attn._heads(attn.q_proj(x), attn.n_heads)                       # (B, H, T, D)
    k, _ = attn.memory_kv(memory)                                       # (B, H_kv, S, D)
    k = k.repeat_interleave(attn.n_heads // attn.n_kv_heads, dim=1)     # (B, H, S, D)
    scores = q @ k.transpose(-2, -1) * attn.head_dim ** -0.5            # (B, H, T, S)
    if seen["mask"] is not None:
        scores = scores.masked_fill(~seen["mask"][:, None, None, :], float("-inf"))
    if attn.causal:
        scores = scores.masked_fill(torch.ones(T, k.size(2), dtype=torch.bool, device=x.device)
                                    .triu(k.size(2) - T + 1), float("-inf"))
    return scores.softmax(-1)


def plot_attention(weights: torch.Tensor, src_tokens: list[str], tgt_tokens: list[str], out: str | Path,
                   title: str = "") -> bool:
    """Draw weights (T, S) as a heat map, target tokens down, source tokens across; write a PNG.
    Returns False when the tokens have Chinese/Japanese/Korean characters and no installed font has their
    glyphs (they are then labelled by code point, U+4F60, instead of as empty boxes); True otherwise."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens = [*src_tokens, *tgt_tokens]
    families, missing = font_families(tokens), missing_glyphs(tokens)
    if missing:  # DejaVu has no CJK glyphs: show code points rather than empty boxes
        shown = lambda t: "".join(f"U+{ord(c):04X}" if ord(c) >= 0x2E80 else c for c in t)
        src_tokens, tgt_tokens = [shown(t) for t in src_tokens], [shown(t) for t in tgt_tokens]
    T, S = weights.shape
    fig, ax = plt.subplots(figsize=(max(5.5, 0.45 * S + 2.5), max(3.0, 0.4 * T + 1.5)))
    im = ax.imshow(weights.float().cpu().numpy(), cmap="viridis", vmin=0.0, aspect="auto")
    ax.set_xticks(range(S), src_tokens, rotation=90, fontfamily=families)
    ax.set_yticks(range(T), tgt_tokens, fontfamily=families)
    ax.set_xlabel("source token (keys, values)")
    ax.set_ylabel("target token (queries)")
    ax.set_title(title, fontsize=9, fontfamily=font_families([title]))
    fig.colorbar(im, ax=ax, fraction=0.04)
    with quiet_glyphs():  # a title's CJK characters without a font: boxes, without a warning per glyph
        fig.tight_layout()
        atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return not missing


def token_labels(tokenizer, ids: list[int]) -> list[str]:
    """A readable label per token: its text, or its byte-level piece when it is part of a character."""
    out = []
    for piece, i in zip(tokenizer.tokens(ids), ids):
        text = tokenizer.decode([i])
        if i == tokenizer.eos_id:
            text = "EOS"
        out.append(piece if "\ufffd" in text else text.replace("\n", "\\n") or piece)
    return out
