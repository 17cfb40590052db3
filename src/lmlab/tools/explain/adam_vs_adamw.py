"""L2 regularisation inside Adam vs AdamW's decoupled weight decay (notes 002 §II.4).

The notes: L2 adds λ·w to the gradient. With SGD that is the same as shrinking the weights by
lr·λ·w each step. Adam, though, divides the whole gradient — the λ·w part too — by √V̂, so a
parameter with a large gradient history (large V̂) is barely decayed, and a large weight (large
λ·w) is not decayed in proportion to its size. AdamW (Loshchilov & Hutter 2019) takes the decay
out of the gradient: w ← w − lr·λ·w, never divided by √V̂.

This run checks all three statements with lmlab's SGD, Adam and AdamW on toy losses whose
gradient has a known size: (1) SGD's L2 and decoupled decay give identical weights; (2) five
parameters whose loss gradients alternate ±s, s = 0.001 … 10 (zero on average, so only the decay
shrinks them): AdamW shrinks all five alike, e^(−lr·λ) per step, Adam + L2 decays the s = 10
parameter 10x slower and the small-gradient ones 8-15x faster; (3) no loss gradient at all,
weights 0.1 … 100: AdamW shrinks each by the same factor, Adam + L2 takes up to lr off each per
step, whatever its size: the small weights are wiped out and the large one is barely decayed.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from lmlab.optim.adam import Adam, AdamW
from lmlab.optim.sgd import SGD
from lmlab.tools.explain._report import heading, save_plot

LR, WD, STEPS = 0.01, 0.1, 1000
SCALES = (0.001, 0.01, 0.1, 1.0, 10.0)        # size of each parameter's loss gradient
SIZES = (0.1, 1.0, 10.0, 100.0)               # starting weights for part 3


def train(opt_cls, w0: list[float], scales: list[float], weight_decay: float, steps: int = STEPS,
          lr: float = LR) -> torch.Tensor:
    """Weights at every step (steps + 1, n) under loss_t(w) = Σ_i (−1)^t · s_i · w_i."""
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(scales, dtype=torch.float64)
    opt = opt_cls([w], lr=lr, weight_decay=weight_decay)
    history = [w.detach().clone()]
    for t in range(steps):
        loss = ((-1) ** t * s * w).sum()          # gradient ±s_i: zero on average
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(w.detach().clone())
    return torch.stack(history)


def decay_rate(w: torch.Tensor, w_free: torch.Tensor, steps: int) -> torch.Tensor:
    """Average shrink per step, −ln(w / w without decay) / steps, in units of AdamW's lr·λ."""
    return -torch.log((w[steps] / w_free[steps]).clamp_min(1e-300)) / steps / (LR * WD)


def run(out: Path | None) -> dict:
    heading("1. SGD: L2 in the gradient = decoupled decay")
    w_l2 = train(SGD, [1.0, -2.0], [0.5, 3.0], weight_decay=WD, steps=50)
    w, s = torch.tensor([1.0, -2.0], dtype=torch.float64), torch.tensor([0.5, 3.0], dtype=torch.float64)
    for t in range(50):                             # w ← w − lr·g − lr·λ·w, written out
        w = w - LR * (-1) ** t * s - LR * WD * w
    sgd_diff = (w_l2[-1] - w).abs().max().item()
    print(f"  lmlab SGD(weight_decay={WD}) vs w ← w − lr·g − lr·λ·w by hand, 50 steps: "
          f"max |diff| = {sgd_diff:.1e}")

    heading(f"2. Adam + L2 vs AdamW: gradients of different sizes (lr {LR}, λ {WD}, {STEPS} steps)")
    ones, n = [1.0] * len(SCALES), len(SCALES)
    free = train(Adam, ones, SCALES, 0.0)           # no decay: what the loss alone does
    adam, adamw = train(Adam, ones, SCALES, WD), train(AdamW, ones, SCALES, WD)
    rate_adam_100, rate_adamw_100 = decay_rate(adam, free, 100), decay_rate(adamw, free, 100)
    print("  every w starts at 1; loss gradient ±s, alternating; without decay Adam leaves all five at "
          f"{free[-1, 0]:.3f}")
    print(f"  {'grad size s':>11}  {'Adam+L2 w@100':>13} {'w@1000':>9}  {'AdamW w@100':>11} {'w@1000':>7}  "
          f"{'decay per step (first 100), × lr·λ':>35}")
    for i in range(n):
        print(f"  {SCALES[i]:>11g}  {adam[100, i]:>13.4f} {adam[-1, i]:>9.2e}  {adamw[100, i]:>11.4f} "
              f"{adamw[-1, i]:>7.4f}  {'Adam+L2':>10} {rate_adam_100[i]:>6.2f}   "
              f"AdamW {rate_adamw_100[i]:>5.2f}")
    print(f"  AdamW multiplies every weight by (1 − lr·λ) per step, whatever its gradient: after {STEPS}")
    x = LR * WD * STEPS
    print(f"  steps each is e^(−{x:g}) = {math.exp(-x):.4f} of its value without decay. Adam + L2 divides")
    print("  the decay by √V̂ ≈ the gradient size: the s = 10 parameter is decayed ~10x less, the")
    print("  s ≤ 0.1 ones 8-15x more (the notes' point).")

    heading("3. No loss gradient at all, weights of different sizes")
    zeros = [0.0] * len(SIZES)
    adam3, adamw3 = train(Adam, list(SIZES), zeros, WD), train(AdamW, list(SIZES), zeros, WD)
    print(f"  {'w at start':>10}  {'Adam+L2 w@100':>13} {'w@1000':>9}  {'AdamW w@100':>11} {'w@1000':>8}")
    for i, w0 in enumerate(SIZES):
        print(f"  {w0:>10g}  {adam3[100, i]:>13.4f} {adam3[-1, i]:>9.2e}  "
              f"{adamw3[100, i]:>11.4f} {adamw3[-1, i]:>8.4f}")
    print("  Adam + L2: the only gradient is λ·w, and Adam's step m̂/√V̂ of a steady gradient is about ±1,")
    print(f"  so every weight loses up to lr = {LR} per step, however big it is: 0.1 and 1 are wiped out,")
    print(f"  100 keeps {adam3[-1, -1] / SIZES[-1]:.0%} of itself. AdamW keeps the decay proportional to w: "
          f"each keeps {adamw3[-1, -1] / SIZES[-1]:.0%}.")

    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
        steps = torch.arange(STEPS + 1)
        for i, s_i in enumerate(SCALES):
            axes[0].plot(steps, (adam[:, i] / free[:, i]).clamp_min(1e-4), color=f"C{i}",
                         label=f"Adam+L2, s = {s_i:g}")
        axes[0].plot(steps, adamw[:, 0] / free[:, 0], "k--", label="AdamW, every s")
        axes[0].set(yscale="log", ylim=(1e-4, 1.5), xlabel="step", ylabel="w / w without decay",
                    title="decay of parameters with gradient size s")
        for i, w0 in enumerate(SIZES):
            axes[1].plot(steps, adam3[:, i] / w0, color=f"C{i}", label=f"Adam+L2, w₀ = {w0:g}")
            axes[1].plot(steps, adamw3[:, i] / w0, "--", color=f"C{i}", label=f"AdamW, w₀ = {w0:g}")
        axes[1].set(xlabel="step", ylabel="w / w₀", title="no loss gradient: weights of different size")
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        return fig

    save_plot(out, "adam-vs-adamw.png", draw)
    return dict(sgd_diff=sgd_diff, scales=SCALES, adam=adam[-1].tolist(), adamw=adamw[-1].tolist(),
                free=free[-1].tolist(), rate_adam_100=rate_adam_100.tolist(),
                rate_adamw_100=rate_adamw_100.tolist(),
                sizes=SIZES, adam_sizes=adam3[-1].tolist(), adamw_sizes=adamw3[-1].tolist())
