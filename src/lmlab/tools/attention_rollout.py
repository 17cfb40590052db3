"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers", §3): which input
patches a ViT's [CLS] draws on, through all its layers.

One layer's attention says how much each token takes from each other token; stacked layers mix what
was already mixed. Rollout follows the mixing down: with the residual connection counted as half of
each layer's input, Â_l = ½ (mean over heads of A_l) + ½ I (rows renormalised), and the flow from the
input to the output is Â_L · … · Â_2 · Â_1 (eq. 1). The [CLS] row of that product, over the patch
tokens, is how much the pooled vector takes from each patch (for a mean-pooled head, the mean of the
patch rows: what the head reads). Each pixel then gets the mean score of the
patches that cover it (exact for overlapping strides too), and the picture shows it over the image
(Dosovitskiy et al. 2021, Figure 6, draws the same maps).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.io.atomic import atomic_write
from lmlab.tools.attention_map import layer_attention_weights


def attention_rollout(attentions: list[torch.Tensor], residual: bool = True) -> torch.Tensor:
    """attentions: one (B, H, T, T) per layer, first layer first -> rollout (B, T, T), rows summing to 1."""
    rollout = None
    for a in attentions:
        a = a.mean(1)                                                        # (B, T, T) heads fused by mean
        if residual:
            a = 0.5 * a + 0.5 * torch.eye(a.size(-1), dtype=a.dtype, device=a.device)
            a = a / a.sum(-1, keepdim=True)
        rollout = a if rollout is None else a @ rollout                     # later layers on the left
    return rollout


@torch.no_grad()
def vit_rollout(model, images: torch.Tensor, residual: bool = True) -> torch.Tensor:
    """The rollout of what the head reads ([CLS], or the mean of the patches for pool="mean") over the patches of
    a ViTForImageClassification, in eval mode -> (B, grid_h, grid_w)."""
    vit = model.vit
    cfg = vit.cfg
    was_training = model.training
    model.eval()
    try:
        weights = layer_attention_weights([block.attn for block in vit.blocks], lambda: model(images))
    finally:
        model.train(was_training)
    rollout = attention_rollout(weights, residual)                          # (B, 1 + N, 1 + N)
    read = rollout[:, 0] if cfg.pool == "cls" else rollout[:, 1:].mean(1)   # (B, 1 + N) the pooled vector's row
    cls_row = read[:, 1:]                                                   # (B, N) its share of each patch
    H, W = images.shape[-2:]
    grid_h = (H - cfg.patch_size) // cfg.patch_stride + 1
    grid_w = (W - cfg.patch_size) // cfg.patch_stride + 1
    return cls_row.reshape(-1, grid_h, grid_w)


def patches_to_pixels(scores: torch.Tensor, patch_size: int, stride: int, image_hw: tuple[int, int]) -> torch.Tensor:
    """scores (B, grid_h, grid_w), one per patch -> (B, H, W): each pixel the mean score of the patches covering it."""
    B, gh, gw = scores.shape
    cols = scores.reshape(B, 1, gh * gw).expand(B, patch_size * patch_size, gh * gw)  # (B, P·P, N)
    total = F.fold(cols, image_hw, kernel_size=patch_size, stride=stride)            # (B, 1, H, W)
    count = F.fold(torch.ones_like(cols), image_hw, kernel_size=patch_size, stride=stride)
    return (total / count.clamp_min(1)).squeeze(1)


def plot_rollout(image: torch.Tensor, heat: torch.Tensor, out: str | Path, title: str = "", reads: str = "[CLS]") -> Path:
    """Draw image (C, H, W; any range) beside it with heat (H, W) laid over it; write a PNG to `out`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = image.detach().float().cpu()
    img = (img - img.min()) / (img.max() - img.min()).clamp_min(1e-8)
    shown = img[0].numpy() if img.size(0) == 1 else img.permute(1, 2, 0).numpy()
    cmap = "gray" if img.size(0) == 1 else None
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4))
    axes[0].imshow(shown, cmap=cmap)
    axes[0].set_title("input", fontsize=9)
    axes[1].imshow(shown, cmap=cmap)
    im = axes[1].imshow(heat.detach().float().cpu().numpy(), cmap="inferno", alpha=0.6)
    axes[1].set_title(f"attention rollout ({reads})", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return Path(out)


def save_vit_rollout(model, image: torch.Tensor, out: str | Path, title: str = "") -> Path:
    """The rollout picture of one (already normalised) image (C, H, W) through a ViT classifier."""
    cfg = model.vit.cfg
    scores = vit_rollout(model, image[None].to(next(model.parameters()).device)).cpu()
    heat = patches_to_pixels(scores, cfg.patch_size, cfg.patch_stride, tuple(image.shape[-2:]))[0]
    return plot_rollout(image, heat, out, title, reads="[CLS]" if cfg.pool == "cls" else "mean of the patches")
