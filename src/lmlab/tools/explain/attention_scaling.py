"""Why attention divides Q·Kᵀ by √d_k (notes 001, 002 §IV.1.4 and 003).

The notes: if the entries of q and k are independent with mean 0 and variance 1, then q·k, a sum
of d_k such products, has variance d_k; large scores push the softmax into saturation (weights
near 0 and 1), where its gradient all but vanishes; dividing by √d_k brings the variance back to
1 (Vaswani et al. 2017, footnote 4).

This run measures it on random vectors for d_k = 16 … 1024: the variance of q·k is d_k, and 1
after scaling; without scaling, the largest of 64 attention weights creeps toward 1, the entropy
falls far below log 64 and the softmax's Jacobian (how much a change of score moves the weights)
shrinks, while with scaling all three stay put whatever d_k is. lmlab's attention kernel uses the
same 1/√d_k by default.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from lmlab.ops.attention import attention
from lmlab.tools.explain._report import heading, save_plot

D_KS = (16, 64, 256, 512, 1024)
N_PAIRS = 4096        # (q, k) pairs per d_k for the variance
N_QUERIES, N_KEYS = 256, 64


def dot_variance(d_k: int, gen: torch.Generator) -> tuple[float, float]:
    """Var(q·k) and Var(q·k / √d_k) for q, k with independent N(0, 1) entries."""
    q = torch.randn(N_PAIRS, d_k, generator=gen)
    k = torch.randn(N_PAIRS, d_k, generator=gen)
    dots = (q * k).sum(-1)
    return dots.var().item(), (dots / math.sqrt(d_k)).var().item()


def saturation(scores: torch.Tensor) -> dict:
    """How peaked softmax(scores) is, averaged over query rows: max weight, entropy, Jacobian norm."""
    p = torch.softmax(scores, dim=-1)                                   # (N_q, N_k)
    entropy = -(p * p.clamp_min(1e-30).log()).sum(-1)
    jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]          # ∂p_i/∂s_j = p_i(δ_ij − p_j)
    return dict(max_p=p.max(-1).values.mean().item(), entropy=entropy.mean().item(),
                jacobian=jac.flatten(1).norm(dim=-1).mean().item())


def run(out: Path | None) -> dict:
    gen = torch.Generator().manual_seed(0)
    heading(f"Var(q·k) over {N_PAIRS} random pairs, entries ~ N(0, 1)")
    print(f"  {'d_k':>5}  {'Var(q·k)':>9}  {'Var(q·k/√d_k)':>13}")
    var = {}
    for d_k in D_KS:
        var[d_k] = dot_variance(d_k, gen)
        print(f"  {d_k:>5}  {var[d_k][0]:>9.1f}  {var[d_k][1]:>13.3f}")
    print("  notes: Var(q·k) = d_k, and 1 after dividing by √d_k  ✓")

    heading(f"Softmax over {N_KEYS} keys, averaged over {N_QUERIES} queries")
    entropy_title = f"entropy (max {math.log(N_KEYS):.2f})"
    print(f"  {'':>5}  {'max weight':^19}  {entropy_title:^21}  {'‖Jacobian‖':^17}")
    print(f"  {'d_k':>5}  {'raw':>9} {'scaled':>9}  {'raw':>10} {'scaled':>10}  {'raw':>8} {'scaled':>8}")
    sat = {}
    for d_k in D_KS:
        q = torch.randn(N_QUERIES, d_k, generator=gen)
        k = torch.randn(N_KEYS, d_k, generator=gen)
        raw, scaled = saturation(q @ k.T), saturation(q @ k.T / math.sqrt(d_k))
        sat[d_k] = dict(raw=raw, scaled=scaled)
        print(f"  {d_k:>5}  {raw['max_p']:>9.3f} {scaled['max_p']:>9.3f}  {raw['entropy']:>10.3f} "
              f"{scaled['entropy']:>10.3f}  {raw['jacobian']:>8.4f} {scaled['jacobian']:>8.4f}")
    print("  Unscaled, the weights pile onto one key as d_k grows and the Jacobian — the factor every")
    print("  gradient through the softmax is multiplied by — shrinks: the saturation the notes describe.")

    # lmlab's kernel: softmax(Q Kᵀ / √d_k) V by default
    d_k = 64
    q, k, v = (torch.randn(1, 1, 8, d_k, generator=gen) for _ in range(3))
    by_hand = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1) @ v
    diff = (attention(q, k, v, backend="naive") - by_hand).abs().max().item()
    print(f"\n  lmlab.ops.attention (default scale) vs softmax(QKᵀ/√d_k)V by hand: max |diff| = {diff:.1e}")

    def draw(plt):
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        ax = axes[0]
        ax.loglog(D_KS, [var[d][0] for d in D_KS], "o-", label="Var(q·k)")
        ax.loglog(D_KS, [var[d][1] for d in D_KS], "s-", label="Var(q·k / √d_k)")
        ax.loglog(D_KS, D_KS, "k:", lw=1, label="d_k")
        ax.set(xlabel="d_k", title="variance of the scores")
        for ax, key, title in ((axes[1], "max_p", "mean largest weight"),
                               (axes[2], "jacobian", "mean ‖softmax Jacobian‖")):
            ax.semilogx(D_KS, [sat[d]["raw"][key] for d in D_KS], "o-", label="q·k")
            ax.semilogx(D_KS, [sat[d]["scaled"][key] for d in D_KS], "s-", label="q·k / √d_k")
            ax.set(xlabel="d_k", title=f"{title} ({N_KEYS} keys)")
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    save_plot(out, "attention-scaling.png", draw)
    return dict(variance=var, saturation=sat, kernel_diff=diff)
