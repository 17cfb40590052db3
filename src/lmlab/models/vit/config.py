"""The ViT configuration (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words", §3.1), and the patch grid.

An image of image_size² pixels is cut into patch_size² patches, one every `stride` pixels in each
direction (stride = patch_size: side by side, as the paper; stride < patch_size: overlapping), so
there are n_side = (image_size − patch_size) // stride + 1 patches per side and n_side² in all.
A grid that leaves pixels uncovered at the right and bottom is refused, never cropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.config import check_choices
from lmlab.ops.backends import Backend


def patch_grid(image_size: int, patch_size: int, stride: int) -> int:
    """Patches per side of an image_size² image; ValueError (one line) for a grid that does not fit."""
    for name, value in (("image_size", image_size), ("patch_size", patch_size), ("stride", stride)):
        if value < 1:
            raise ValueError(f"{name} must be ≥ 1, got {value}")
    if patch_size > image_size:
        raise ValueError(f"a {patch_size}×{patch_size} patch does not fit in an image of {image_size}×{image_size} pixels")
    if stride > image_size:
        raise ValueError(f"stride {stride} is larger than the image ({image_size}×{image_size} pixels): there would be "
                         "one patch and nothing to step to")
    left = (image_size - patch_size) % stride
    if left:
        raise ValueError(f"{patch_size}×{patch_size} patches every {stride} pixels leave the last {left} pixel"
                         f"{'s' if left > 1 else ''} of a {image_size}-pixel side uncovered; use image_size "
                         f"{image_size - left} or {image_size - left + stride}, or a stride that divides "
                         f"image_size − patch_size = {image_size - patch_size}")
    return (image_size - patch_size) // stride + 1


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 224           # square images, image_size × image_size pixels
    patch_size: int = 16            # square patches; the paper's "/16"
    stride: int = 0                 # pixels between patches; 0 means patch_size (no overlap)
    n_channels: int = 3             # RGB
    d_model: int = 768
    n_heads: int = 12
    n_layers: int = 12
    d_ff: int = 0                   # 0 means 4 * d_model
    dropout: float = 0.0            # embeddings, attention weights, every sub-layer output
    norm_eps: float = 1e-6          # the original (JAX) LayerNorm epsilon; Hugging Face's default is 1e-12
    activation: Literal["gelu_exact", "gelu", "relu"] = "gelu_exact"
    pool: Literal["cls", "mean"] = "cls"  # what the head reads: [CLS]'s final state, or the mean of the patches'
    pooler: bool = False            # dense + tanh on [CLS] before the head (the paper's pre-training MLP, HF's pooler)
    n_classes: int = 1000           # 0: no head, the model returns the pooled vector (B, d_model)
    attn_backend: Backend = "auto"

    def __post_init__(self):
        for name in ("n_channels", "d_model", "n_heads", "n_layers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.stride < 0:
            raise ValueError(f"stride must be ≥ 1 (or 0 for stride = patch_size), got {self.stride}")
        patch_grid(self.image_size, self.patch_size, self.patch_stride)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.d_ff < 0:
            raise ValueError(f"d_ff must be ≥ 0 (0 = 4 * d_model), got {self.d_ff}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.norm_eps <= 0:
            raise ValueError(f"norm_eps must be positive, got {self.norm_eps}")
        if self.n_classes < 0:
            raise ValueError(f"n_classes must be ≥ 0 (0 = no head), got {self.n_classes}")
        if self.pooler and self.pool != "cls":
            raise ValueError("pooler=True reads [CLS]: it needs pool='cls'")
        check_choices(self, "activation", "pool", "attn_backend")

    @property
    def patch_stride(self) -> int:
        return self.stride or self.patch_size

    @property
    def grid_size(self) -> int:
        """Patches per side."""
        return patch_grid(self.image_size, self.patch_size, self.patch_stride)

    @property
    def n_patches(self) -> int:
        return self.grid_size ** 2

    @property
    def patch_dim(self) -> int:
        """Numbers in one flattened patch: the notes' 16 × 16 × 3 = 768."""
        return self.patch_size ** 2 * self.n_channels

    @property
    def in_channels(self) -> int:
        """n_channels, by the name the image pipeline (lmlab.data.images) reads from every image family's config."""
        return self.n_channels

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def ff_dim(self) -> int:
        return self.d_ff or 4 * self.d_model
