"""Label smoothing (notes 003): soften the one-hot target so the model is not pushed to certainty.

The notes: the true class gets 1 − ε, each wrong class ε/(V − 1) (written "ε/V−1"), ε usually
0.1, e.g. y = [0.025, 0.025, 0.9, 0.025, 0.025] for V = 5. PyTorch's `label_smoothing` (and
Szegedy et al. 2016, who introduced it) spreads ε over *all* V classes instead: the true class
gets 1 − ε + ε/V = 0.92, each wrong class ε/V = 0.02. Both are in lmlab's `cross_entropy`
(smoothing="others" / "uniform"); they are one family, "others" at ε = "uniform" at ε·V/(V − 1).

This run prints both targets for the notes' example, the losses they give for a few predictions
(checked against torch.nn.functional.cross_entropy), and the point of it all: with smoothing the
loss has its minimum at a finite logit gap, log(q_true / q_wrong), instead of at infinity.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.ops.losses import cross_entropy, smoothed_targets
from lmlab.tools.explain._report import Notes, heading, save_plot, vec

EPS, V, TRUE = 0.1, 5, 2
PREDICTIONS = {                         # logits for the V = 5 classes; class 2 is the true one
    "unsure": [0.0, 0.0, 1.0, 0.0, 0.0],
    "right": [0.0, 0.0, 3.6, 0.0, 0.0],
    "sure": [0.0, 0.0, 10.0, 0.0, 0.0],
    "wrong": [0.0, 0.0, 0.0, 4.0, 0.0],
}


def gap_loss(gap: torch.Tensor, smoothing: str | None) -> torch.Tensor:
    """Loss when the true class's logit exceeds the V − 1 others (all equal) by `gap`."""
    logits = torch.zeros(len(gap), V, dtype=torch.float64)
    logits[:, TRUE] = gap
    target = torch.full((len(gap),), TRUE)
    if smoothing is None:
        return cross_entropy(logits, target, reduction="none")
    return cross_entropy(logits, target, label_smoothing=EPS, smoothing=smoothing, reduction="none")


def run(out: Path | None) -> dict:
    notes = Notes()
    target = torch.tensor([TRUE])
    heading(f"Targets for V = {V} classes, ε = {EPS}, true class {TRUE}")
    q_others = smoothed_targets(target, V, EPS, smoothing="others")[0]
    q_uniform = smoothed_targets(target, V, EPS, smoothing="uniform")[0]
    print(f"  one-hot                          {vec(F.one_hot(target, V)[0], 3)}")
    print(f"  notes (ε over the V−1 others)    {vec(q_others, 3)}   smoothing='others'")
    print(f"  PyTorch (ε over all V)           {vec(q_uniform, 3)}   smoothing='uniform'")
    notes.check("notes: true class 1 − ε", "0.9", q_others[TRUE])
    notes.check("notes: wrong class ε/(V − 1)", "0.025", q_others[0])
    print("  (the notes write the wrong-class value \"ε/V−1\"; their vector shows they mean ε/(V − 1))")
    print(f"  PyTorch: true class 1 − ε + ε/V = {q_uniform[TRUE]:.3f}, wrong class ε/V = {q_uniform[0]:.3f}")
    eps_u = EPS * V / (V - 1)
    same = smoothed_targets(target, V, eps_u, smoothing="uniform")[0]
    print(f"  'others' at ε = {EPS} is 'uniform' at ε' = ε·V/(V−1) = {eps_u:.3f}: {vec(same, 3)}")

    heading("Loss = −Σ_c q_c · log softmax(z)_c for a few predictions")
    print(f"  {'prediction':<10} {'logits':<28} {'p(true)':>7}  {'no smoothing':>12} {'others':>8} "
          f"{'uniform':>8}  {'F.cross_entropy':>15}")
    losses = {}
    for name, z in PREDICTIONS.items():
        logits = torch.tensor([z], dtype=torch.float64)
        row = dict(none=cross_entropy(logits, target).item(),
                   others=cross_entropy(logits, target, label_smoothing=EPS, smoothing="others").item(),
                   uniform=cross_entropy(logits, target, label_smoothing=EPS, smoothing="uniform").item(),
                   torch=F.cross_entropy(logits, target, label_smoothing=EPS).item())
        losses[name] = row
        p_true = torch.softmax(logits, -1)[0, TRUE].item()
        print(f"  {name:<10} {vec(z, 1):<28} {p_true:>7.3f}  {row['none']:>12.4f} {row['others']:>8.4f} "
              f"{row['uniform']:>8.4f}  {row['torch']:>15.4f}")
    agree = all(abs(r["uniform"] - r["torch"]) < 1e-5 for r in losses.values())   # lmlab computes in fp32
    print(f"  'uniform' equals PyTorch's F.cross_entropy(label_smoothing={EPS}) in every row: {agree}")
    print("  Without smoothing, 'sure' is the best prediction; with it, 'sure' costs more than 'right':")
    print("  the smoothed target punishes over-confidence.")

    heading("Where the loss is smallest")
    best = {}
    for name, q in (("others", q_others), ("uniform", q_uniform)):
        gap = math.log(q[TRUE] / q[0])              # softmax(z) = q ⇔ z_true − z_wrong = log(q_true/q_wrong)
        entropy = -(q * q.log()).sum().item()       # the smallest possible loss: H(q)
        best[name] = dict(gap=gap, loss=entropy, loss_at_gap=gap_loss(torch.tensor([gap]), name).item())
        print(f"  {name:<8} best logit gap log({q[TRUE]:.3f}/{q[0]:.3f}) = {gap:.3f}, loss there "
              f"{best[name]['loss_at_gap']:.4f} = H(q) = {entropy:.4f}")
    print("  no smoothing: the loss keeps falling as the gap grows, so the logits are pushed to infinity.")
    notes.tally()

    def draw(plt):
        gaps = torch.linspace(-2, 12, 300, dtype=torch.float64)
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(gaps, gap_loss(gaps, None), label="one-hot (no smoothing)")
        for name, color in (("others", "C1"), ("uniform", "C2")):
            ax.plot(gaps, gap_loss(gaps, name), color=color, label=f"ε = {EPS}, '{name}'")
            ax.plot(best[name]["gap"], best[name]["loss"], "o", color=color)
        ax.set(xlabel="logit of the true class − logit of each other class", ylabel="cross-entropy",
               title=f"label smoothing keeps the optimum finite (V = {V})", ylim=(0, 3))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    save_plot(out, "label-smoothing.png", draw)
    return dict(others=q_others.tolist(), uniform=q_uniform.tolist(), losses=losses, best=best,
                torch_agrees=agree, checks=notes.rows)
