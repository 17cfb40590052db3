"""What BatchNorm and LayerNorm average over (notes 001, 002 §I.1 and 003).

For a batch of b sentences of n tokens with d features, x of shape (b, n, d):
- BatchNorm: one mean and variance per feature, over its b·n values in the batch (d statistics),
  running averages for evaluation (notes ✓).
- LayerNorm: notes 003 draw it over all n·d values of a sample (b statistics). Transformers, and
  `LayerNorm(d_model)` in lmlab and PyTorch, normalise each *token* over its d features (b·n
  statistics). The notes' version exists (PyTorch's `nn.LayerNorm([n, d])`) but is not what the
  Transformer does: it mixes the tokens of a sentence, padding included.

This run prints the statistics' shapes and values on a small (2, 3, 4) batch with lmlab's
BatchNorm and LayerNorm, then pads the second sentence and checks whose outputs for the real
tokens change (BatchNorm's and the notes' version's do, per-token LayerNorm's do not), and
compares training- and evaluation-mode outputs (only BatchNorm differs).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.nn.norms import BatchNorm, LayerNorm
from lmlab.tools.explain._report import heading, save_plot, vec

B, N, D = 2, 3, 4


def per_sample_layer_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The notes' drawing: one mean/variance per sample over its n·d values (nn.LayerNorm([n, d]))."""
    return F.layer_norm(x, x.shape[-2:], eps=eps)


@torch.no_grad()
def run(out: Path | None) -> dict:
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(B, N, D, generator=gen) * 2 + 1).round(decimals=1)   # (b, n, d)
    heading(f"x: b = {B} sentences × n = {N} tokens × d = {D} features")
    for i in range(B):
        for t in range(N):
            print(f"  sentence {i}, token {t}: {vec(x[i, t], 1)}")

    heading("BatchNorm: per feature, over the batch")
    bn = BatchNorm(D, channels_last=True)
    mean_bn, var_bn = x.mean(dim=(0, 1)), x.var(dim=(0, 1), unbiased=False)
    y_bn = bn(x)
    print(f"  statistics shape {tuple(mean_bn.shape)}: {D} features, each over b·n = {B * N} values")
    print(f"  means     {vec(mean_bn, 3)}")
    print(f"  variances {vec(var_bn, 3)}")
    print(f"  after: per-feature means {vec(y_bn.mean(dim=(0, 1)), 3)}, "
          f"variances {vec(y_bn.var(dim=(0, 1), unbiased=False), 3)}")

    heading("LayerNorm(d): per token, over its features (the Transformer's)")
    ln = LayerNorm(D)
    mean_ln, var_ln = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    y_ln = ln(x)
    print(f"  statistics shape {tuple(mean_ln.shape)}: one per token, each over d = {D} values")
    print(f"  means     {vec(mean_ln.flatten(), 3)}")
    print(f"  variances {vec(var_ln.flatten(), 3)}")
    print(f"  after: per-token means {vec(y_ln.mean(-1).flatten(), 3)}")

    heading("The notes' LayerNorm: per sample, over n·d values")
    mean_s = x.mean(dim=(1, 2), keepdim=True)
    y_s = per_sample_layer_norm(x)
    print(f"  statistics shape {tuple(mean_s.shape)}: one per sentence, each over n·d = {N * D} values")
    print(f"  means     {vec(mean_s.flatten(), 3)}")
    print(f"  differs from per-token LayerNorm: max |difference| = {(y_s - y_ln).abs().max():.3f}")

    heading("Add two zero padding tokens to each sentence: do the real tokens' outputs change?")
    padded = torch.cat([x, torch.zeros(B, 2, D)], dim=1)                   # (b, n + 2, d)
    changes = {
        "BatchNorm": (BatchNorm(D, channels_last=True)(padded)[:, :N] - y_bn).abs().max().item(),
        "LayerNorm(d), per token": (ln(padded)[:, :N] - y_ln).abs().max().item(),
        "notes' per-sample version": (per_sample_layer_norm(padded)[:, :N] - y_s).abs().max().item(),
    }
    for name, change in changes.items():
        print(f"  {name:<28} max change {change:.3f}  {'changed' if change > 1e-5 else 'unchanged'}")

    heading("Training vs evaluation mode")
    bn.eval()
    ln.eval()
    modes = {"BatchNorm": (bn(x) - y_bn).abs().max().item(), "LayerNorm": (ln(x) - y_ln).abs().max().item()}
    print(f"  BatchNorm: eval uses running averages (after one batch: mean {vec(bn.running_mean, 2)}),")
    print(f"             max |train − eval| = {modes['BatchNorm']:.3f}")
    print(f"  LayerNorm: no running state, max |train − eval| = {modes['LayerNorm']:.3f}")

    def draw(plt):
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
        rows = torch.arange(B * N)
        groups = {"BatchNorm: one statistic per feature": torch.arange(D).expand(B * N, D),
                  "LayerNorm(d): one per token": rows[:, None].expand(B * N, D),
                  "notes' drawing: one per sentence": (rows // N)[:, None].expand(B * N, D)}
        for ax, (title, g) in zip(axes, groups.items()):
            ax.imshow(g, cmap="tab10", vmin=0, vmax=9)
            for r in range(B * N):
                for c in range(D):
                    ax.text(c, r, f"{x.view(B * N, D)[r, c]:.1f}", ha="center", va="center", fontsize=7)
            ax.axhline(N - 0.5, color="k", lw=2)
            ax.set_xticks(range(D), [f"f{c}" for c in range(D)])
            ax.set_yticks(range(B * N), [f"s{r // N} t{r % N}" for r in range(B * N)])
            ax.set_title(title, fontsize=9)
        fig.suptitle("values sharing a colour share a mean and variance "
                     "(s = sentence, t = token, f = feature)", fontsize=9)
        fig.tight_layout()
        return fig

    save_plot(out, "norms.png", draw)
    return dict(bn_stats_shape=tuple(mean_bn.shape), ln_stats_shape=tuple(mean_ln.shape),
                sample_stats_shape=tuple(mean_s.shape), padding_changes=changes, train_vs_eval=modes)
