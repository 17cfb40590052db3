"""Pictures of what a CNN's first layer learned: its filters, and the feature maps they make of one image
(Zeiler & Fergus 2014 look deeper; the first layer is the one whose weights are themselves pictures)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from lmlab.io.atomic import atomic_write


def _grid(images: list[torch.Tensor], titles: list[str], path: Path, title: str, cmap: str = "gray") -> None:
    """Draw (H, W) or (H, W, 3) tensors in a near-square grid into a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k].numpy(), cmap=cmap, interpolation="nearest")
            ax.set_title(titles[k], fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def plot_filters(weight: torch.Tensor, path: Path, max_filters: int = 64) -> None:
    """The first convolution's filters (C_out, C_in, k, k), each scaled to [0, 1]: RGB when C_in is 3, else grey
    (the mean over input channels)."""
    w = weight.detach().float().cpu()[:max_filters]
    pics = []
    for f in w:
        f = f.permute(1, 2, 0) if f.shape[0] == 3 else f.mean(0)
        pics.append((f - f.min()) / (f.max() - f.min() + 1e-12))
    _grid(pics, [str(i) for i in range(len(pics))], path,
          f"first-layer filters {tuple(weight.shape[2:])}, {weight.shape[0]} of them")


@torch.no_grad()
def plot_feature_maps(conv: torch.nn.Module, image: torch.Tensor, path: Path, label: str = "",
                      max_maps: int = 64) -> None:
    """What the first convolution makes of one normalised image (C, H, W): its output channels, after ReLU."""
    maps = torch.relu(conv(image[None].to(next(conv.parameters()).device)))[0].float().cpu()[:max_maps]
    shown = image.float().cpu().mean(0)
    _grid([shown, *maps], ["input" + (f" ({label})" if label else ""), *map(str, range(len(maps)))], path,
          "first-layer feature maps (ReLU)", cmap="viridis")
