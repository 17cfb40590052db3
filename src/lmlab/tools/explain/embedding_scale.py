"""Why token embeddings are multiplied by √d_model (notes 003; Vaswani et al. 2017, §3.4).

The notes: the token embedding and the positional encoding are added, so they must be of the
same size. An embedding initialised with variance 1/d_model has entries of about 1/√d_model
(±0.044 for d_model = 512) and length about 1, while the sinusoidal encoding's entries swing
over [−1, 1]; added as they are, position would drown the token. Times √d_model (≈ 22.6) the
entries are about 1, like the encoding's.

This run measures both with lmlab's `sinusoidal_table` and an embedding initialised that way:
the sizes before and after scaling, the share of the sum's energy that is position, and whether
the token can still be read back from the sum (nearest embedding). It also shows that the trick
belongs to that initialisation: with PyTorch's default N(0, 1) embeddings, scaling makes the
token 32x louder than position, and GPT-2 (learned positions, both N(0, 0.02)) needs no scaling.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from lmlab.nn.embeddings import sinusoidal_table
from lmlab.tools.explain._report import Notes, heading, save_plot

D_MODEL, VOCAB, SEQ = 512, 1000, 512


def stats(emb: torch.Tensor, pe: torch.Tensor, scale: float) -> dict:
    """Sizes of the scaled token embeddings and the position table, and how they mix."""
    e = emb * scale                                                       # (V, C)
    e_norm, pe_norm = e.norm(dim=-1).mean().item(), pe.norm(dim=-1).mean().item()
    # Read the token back from token + position: the nearest embedding by dot product.
    tokens = torch.arange(SEQ) % emb.size(0)
    x = e[tokens] + pe                                                    # (T, C): position t holds token t
    recovered = (x @ e.T).argmax(-1)                                      # (T,)
    return dict(entry_std=e.std().item(), norm=e_norm, pe_norm=pe_norm, ratio=pe_norm / e_norm,
                position_share=pe_norm**2 / (pe_norm**2 + e_norm**2),
                token_recovered=(recovered == tokens).float().mean().item())


def run(out: Path | None) -> dict:
    notes = Notes()
    gen = torch.Generator().manual_seed(0)
    pe = sinusoidal_table(SEQ, D_MODEL)                                   # (T, C)
    emb = torch.randn(VOCAB, D_MODEL, generator=gen) / math.sqrt(D_MODEL)  # Var = 1/d_model
    heading(f"d_model = {D_MODEL}: embeddings ~ N(0, 1/d_model), sinusoidal positions")
    notes.check("embedding entry size 1/√d_model", "0.044", emb.std())
    notes.check("embedding length (L2 norm)", "1", emb.norm(dim=-1).mean(), digits=3)
    notes.check("largest |positional entry|", "1.0", pe.abs().max())
    notes.check("√d_model", "22.6", math.sqrt(D_MODEL))
    notes.check("entry size after × √d_model", "1.0", (emb * math.sqrt(D_MODEL)).std())
    rms = pe.pow(2).mean().sqrt()
    print(f"  a positional entry is a sin or a cos: RMS 1/√2 = {rms:.3f}; every position's")
    print(f"  vector has length √(d_model/2) = {pe.norm(dim=-1).mean():.1f}, against the token's 1")

    heading("Token + position, before and after × √d_model")
    print(f"  {'tokens':<16} {'positions':<16} {'scale':>5}  {'entry':>6}  {'‖tok‖':>6}  {'‖pos‖':>6}  "
          f"{'pos share':>9}  {'readable':>8}")
    learned = torch.randn(SEQ, D_MODEL, generator=gen) * 0.02
    cases = {"notes": ("N(0, 1/d_model)", emb, "sinusoidal", pe),
             "torch": ("N(0, 1) (torch)", torch.randn(VOCAB, D_MODEL, generator=gen), "sinusoidal", pe),
             "gpt2": ("N(0, 0.02)", torch.randn(VOCAB, D_MODEL, generator=gen) * 0.02, "learned, same",
                      learned)}
    table = {}
    for key, (tok_name, e, pos_name, p) in cases.items():
        for scale_name, scale in (("1", 1.0), ("√d", math.sqrt(D_MODEL))):
            s = table[f"{key} × {scale_name}"] = stats(e, p, scale)
            print(f"  {tok_name:<16} {pos_name:<16} {scale_name:>5}  {s['entry_std']:>6.3f}  "
                  f"{s['norm']:>6.2f}  "
                  f"{s['pe_norm']:>6.2f}  {s['position_share']:>9.1%}  {s['token_recovered']:>8.1%}")
    print("  entry: std of a token-embedding entry; pos share: ‖pos‖² / (‖pos‖² + ‖tok‖²), the part of")
    print("  the sum's energy that is position; readable: the token is still the nearest embedding to")
    print("  token + position (at initialisation, over 512 positions).")
    before, after = table["notes × 1"]["position_share"], table["notes × √d"]["position_share"]
    print(f"  With the notes' init, position is {before:.1%} of the input before scaling, {after:.1%} after.")
    print("  The trick goes with that init: torch's default N(0, 1) is already as big (scaled, it drowns")
    print("  position), and GPT-2 initialises its learned positions like its tokens, so it adds them")
    print("  unscaled.")
    notes.tally()

    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
        dims, pos, tok = torch.arange(96), 10, 7
        for ax, scale, title in ((axes[0], 1.0, "as initialised"),
                                 (axes[1], math.sqrt(D_MODEL), "token embedding × √d_model")):
            ax.plot(dims, pe[pos, :96], ".-", lw=0.8, label=f"positional encoding, position {pos}")
            ax.plot(dims, emb[tok, :96] * scale, ".-", lw=0.8, label=f"token embedding (token {tok})")
            ax.set(xlabel="dimension (first 96 of 512)", title=title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="lower right")
        axes[0].set_ylabel("value")
        fig.tight_layout()
        return fig

    save_plot(out, "embedding-scale.png", draw)
    return dict(table=table, checks=notes.rows)
