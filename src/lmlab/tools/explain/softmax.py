"""Softmax (notes 000, "Softmax函数解释"; masking in notes 001 and 002).

softmax(x)_i = e^(x_i) / Σ_j e^(x_j) turns any scores into probabilities. The notes work out
[1, 2, 3] by hand, show that a shift changes nothing and a big gap gives a near-hard max, that
−∞ gives exactly zero weight (masked attention), and that a temperature T (softmax(x/T)) sharpens
(T < 1) or flattens (T > 1) the distribution.

This run recomputes each of them. All agree except the attention example: the weights the notes
print for the scores [2.5, 1.2, 3.8, 0.5] are not their softmax ([0.197, 0.054, 0.723, 0.027]).
It also shows the −∞ of the notes inside lmlab's attention kernel (a boolean mask), and why a
large finite number (−1e9, notes 002; −1e10, notes 001) is used in practice: a row whose every
key is masked gives 0/0 = NaN with −∞, uniform weights with −1e9, and 0 in lmlab's attention.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from lmlab.generate.processors import Temperature
from lmlab.ops.attention import attention
from lmlab.tools.explain._report import Notes, heading, save_plot, vec

TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 5.0)


def softmax(x) -> torch.Tensor:
    return torch.softmax(torch.as_tensor(x, dtype=torch.float64), dim=-1)


def entropy(p: torch.Tensor) -> float:
    """−Σ p·log p in nats (0·log 0 = 0); log(n) for n equal choices, 0 for a hard choice."""
    return -(p * p.clamp_min(1e-300).log()).sum().item()


def run(out: Path | None) -> dict:
    notes = Notes()
    heading("softmax([1, 2, 3]) step by step")
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    e = x.exp()
    for xi, ei, printed in zip(x.tolist(), e.tolist(), ("2.718", "7.389", "20.086")):
        notes.check(f"step 1: e^{xi:.0f}", printed, ei)
    notes.check("step 2: sum", "30.193", e.sum())
    p = e / e.sum()
    for xi, pi, printed in zip(x.tolist(), p.tolist(), ("0.09", "0.245", "0.665")):
        notes.check(f"step 3: softmax({xi:.0f}) = e^{xi:.0f} / sum", printed, pi)
    notes.check("check: the three sum to", "1.0", p.sum())

    heading("Big gaps, shifts")
    p30 = softmax([1, 2, 30])
    print(f"  softmax([1, 2, 30])   = {vec(p30, 6)}  (notes: [0.0, 0.0, 1.0])")
    notes.check("softmax([1, 2, 30])[2]", "1.0", p30[2])
    p_shift = softmax([10, 11, 12])
    print(f"  softmax([10, 11, 12]) = {vec(p_shift)}  (notes: [0.09, 0.245, 0.665])")
    print(f"  shifting every score by 9 changes nothing: {torch.allclose(p_shift, p)}  "
          "(e^(x+c) = e^c·e^x, and e^c cancels)")

    heading("Masking with −∞")
    p_mask = softmax([1.0, -math.inf, 3.0])
    for i, printed in enumerate(("0.119", "0.0", "0.881")):
        notes.check(f"softmax([1, −∞, 3])[{i}]", printed, p_mask[i])
    # The same thing inside lmlab's attention: scores q·k = [1, 2, 3] (scale 1), key 1 masked out.
    # With v = the identity matrix, the output rows *are* the attention weights.
    q = torch.tensor([[[[1.0, 0.0, 0.0]]]])                             # (B, H, T_q, D) = (1, 1, 1, 3)
    k = torch.tensor([[[[1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]]]])     # (1, 1, T_k = 3, 3)
    v = torch.eye(3)[None, None]                                       # (1, 1, 3, 3)
    keep = torch.tensor([[True, False, True]])                        # key_padding_mask: False = hidden
    w = attention(q, k, v, key_padding_mask=keep, scale=1.0, backend="naive")[0, 0, 0]
    print(f"  lmlab.ops.attention, scores [1, 2, 3], key 1 masked: weights {vec(w, 3)}")
    print("  Masks in practice use a large finite number (notes: −1e9, −1e10). Where it matters:")
    print(f"    a row with every key masked, with −∞:   {vec(softmax([-math.inf, -math.inf]), 1)}  (0/0)")
    print(f"    the same row with −1e9:                 {vec(softmax([-1e9, -1e9]), 1)}  "
          "(attends to padding)")
    none = torch.zeros(1, 3, dtype=torch.bool)
    out_row = attention(q, k, v, key_padding_mask=none, scale=1.0, backend="naive")[0, 0, 0]
    print(f"    lmlab's attention (output, not weights): {vec(out_row, 1)}  (defined as 0, no NaN)")
    print(f"    and −1e9 in fp16 is already −∞: {torch.tensor(-1e9).half().item()}")

    heading("Softmax in attention: scores [2.5, 1.2, 3.8, 0.5]")
    scores = [2.5, 1.2, 3.8, 0.5]
    p_att = softmax(scores)
    e_s = torch.tensor(scores, dtype=torch.float64).exp()
    why = f"not the softmax of these scores: e^s = {vec(e_s, 2)}, over their sum {e_s.sum():.2f}"
    for i, printed in enumerate(("0.31", "0.08", "0.57", "0.04")):
        notes.check(f"attention_weights[{i}]", printed, p_att[i], why=why if i == 0 else "")

    heading("Temperature: softmax(x / T) for x = [1, 2, 3]")
    print(f"  {'T':>5}  {'probabilities':<26}  entropy (nats; max log 3 = {math.log(3):.3f})")
    rows = {}
    for t in TEMPERATURES + (0.01,):
        pt = torch.softmax(Temperature(t)(None, x[None])[0], dim=-1)   # lmlab's sampling processor
        rows[t] = (pt, entropy(pt))
        print(f"  {t:>5}  {vec(pt, 3):<26}  {entropy(pt):.3f}")
    print("  T < 1 sharpens, T > 1 flattens, T → 0 is the hard max [0, 0, 1] (notes ✓).")
    notes.tally()

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        width = 0.8 / len(TEMPERATURES)
        for j, t in enumerate(TEMPERATURES):
            ax.bar(torch.arange(3) + (j - 2) * width, rows[t][0], width, label=f"T = {t}")
        ax.set_xticks(range(3), ["x = 1", "x = 2", "x = 3"])
        ax.set(ylabel="probability", title="softmax(x / T), x = [1, 2, 3]")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    save_plot(out, "softmax.png", draw)
    return dict(softmax_123=p.tolist(), masked=p_mask.tolist(), attention_lmlab=w.tolist(),
                attention_scores=p_att.tolist(), entropy={t: h for t, (_, h) in rows.items()},
                checks=notes.rows)
