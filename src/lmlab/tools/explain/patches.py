"""How ViT turns an image into tokens (notes 004 §六.1; Dosovitskiy et al. 2021, §3.1).

The notes: the image is cut into fixed-size patches (e.g. 16×16 pixels), side by side or overlapping
as patch_size and stride decide; each patch of d1×d2×d3 (width × height × channels) is flattened into
a vector of d1·d2·d3 numbers, 16×16×3 = 768 for RGB; one linear projection, shared by all patches,
maps each vector to d_model; [CLS] goes in front, positions are added, and the encoder reads them.

This run computes it for the image, patch size and stride given (default 224², 16, 16): patches
per side (image − patch) // stride + 1 and in all, the flattened length, the sequence length with
[CLS], the share of pixels that two or more patches cover, and the attention matrix's size. It then
checks on a random image that lmlab's patch projection (a Conv2d with kernel = patch, stride = stride)
is exactly "flatten every patch, multiply by one shared matrix", and draws the patch grid (--out).
A grid that leaves pixels uncovered, a patch bigger than the image or a stride larger than it is
refused in one line.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from lmlab.errors import LmlabError
from lmlab.models.vit.config import patch_grid
from lmlab.tools.explain._report import Notes, heading, save_plot

OPTIONS = {"image_size": 224, "patch_size": 16, "stride": 0, "channels": 3, "d_model": 768}


def run(out: Path | None, image_size: int = 224, patch_size: int = 16, stride: int = 0, channels: int = 3,
        d_model: int = 768) -> dict:
    stride = stride or patch_size
    try:
        side = patch_grid(image_size, patch_size, stride)
    except ValueError as e:
        raise LmlabError(f"explain patches: {e}") from None
    n, dim = side * side, patch_size * patch_size * channels
    notes = Notes()

    heading("The notes' example: one RGB patch of 16×16 pixels, flattened")
    notes.check("16 × 16 × 3", "768", 16 * 16 * 3, digits=0)

    heading(f"An image of {image_size}×{image_size}×{channels}, patches of {patch_size}×{patch_size}, "
            f"stride {stride}")
    overlap = "side by side" if stride == patch_size else ("overlapping" if stride < patch_size else
                                                          "with gaps between them")
    print(f"  patches are {overlap}")
    print(f"  per side   ({image_size} − {patch_size}) // {stride} + 1 = {side}")
    print(f"  in all     {side} × {side} = {n} patches; with [CLS] a sequence of {n + 1} tokens")
    print(f"  flattened  {patch_size} × {patch_size} × {channels} = {dim} numbers per patch "
          f"(the image has {image_size * image_size * channels:,}; the patches hold {n * dim:,})")
    print(f"  projection one shared ({dim} → {d_model}) matrix + bias: {dim * d_model + d_model:,} parameters, "
          "whatever the number of patches")
    print(f"  attention  ({n + 1})² = {(n + 1) ** 2:,} scores per head and layer")
    cover = F.fold(torch.ones(1, patch_size * patch_size, n), (image_size, image_size), patch_size, stride=stride)
    shared = (cover > 1).float().mean().item()
    unseen = (cover == 0).float().mean().item()
    print(f"  pixels in two or more patches: {100 * shared:.1f} %; in none: {100 * unseen:.1f} %")
    if patch_size == 16 and channels == 3 and image_size == 224 and stride == 16:
        notes.check("ViT-B/16 at 224²: patches", "196", n, digits=0)

    heading("lmlab's patch projection = flatten each patch, one shared matrix")
    gen = torch.Generator().manual_seed(0)
    check_size = min(image_size, patch_size + 3 * stride)        # a few patches per side is proof enough
    check_size -= (check_size - patch_size) % stride
    image = torch.randn(1, channels, check_size, check_size, generator=gen)
    conv = torch.nn.Conv2d(channels, 8, kernel_size=patch_size, stride=stride)
    with torch.no_grad():
        by_conv = conv(image).flatten(2).transpose(1, 2)                       # (1, N, 8)
        flat = F.unfold(image, patch_size, stride=stride).transpose(1, 2)     # (1, N, dim)
        by_hand = flat @ conv.weight.reshape(8, -1).T + conv.bias
    diff = (by_conv - by_hand).abs().max().item()
    print(f"  on a {check_size}² image: Conv2d(kernel {patch_size}, stride {stride}) vs unfold → ({dim},) "
          f"vectors @ one (8, {dim}) matrix: max |diff| = {diff:.1e}")
    notes.tally()

    def draw(plt):
        from matplotlib.patches import Rectangle
        fig, ax = plt.subplots(figsize=(4.6, 4.6))
        ax.imshow(cover[0, 0].numpy(), cmap="Blues", vmin=0, extent=(0, image_size, image_size, 0))
        show = range(side) if side <= 16 else [0, 1, side - 1]
        for i in show:
            for j in show:
                ax.add_patch(Rectangle((j * stride, i * stride), patch_size, patch_size, fill=False,
                                       lw=0.8, ec="tab:red" if (i, j) == (0, 0) else "tab:orange"))
        ax.set_title(f"{image_size}² image, {patch_size}² patches, stride {stride}: {side}×{side} = {n}\n"
                     "shade: patches covering each pixel", fontsize=9)
        fig.tight_layout()
        return fig

    save_plot(out, "patches.png", draw)
    return dict(per_side=side, n_patches=n, seq_len=n + 1, patch_dim=dim, shared=shared, unseen=unseen,
                projection_diff=diff, differs=notes.differs)
