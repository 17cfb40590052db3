"""ViT: an image as a sequence of patches, read by a Transformer encoder (Dosovitskiy et al. 2021).

"An Image is Worth 16x16 Words", §3.1, eq. 1-4. Each patch_size² patch of the image is flattened
(16 × 16 × 3 = 768 numbers for RGB) and mapped to d_model by one linear projection shared by all
patches; a Conv2d with kernel patch_size and stride `stride` computes exactly that projection for
every patch at once (its weight is the (d_model, 768) matrix, reshaped). A learned [CLS] vector is
put in front, a learned position embedding added to each of the 1 + n_patches tokens, and the
sequence goes through lmlab's encoder blocks (Pre-LN, bidirectional, GELU) and a final LayerNorm.
The classifier reads [CLS]'s final state (the paper) or the mean of the patches' states.

With stride < patch_size patches overlap (more tokens, no Hugging Face counterpart). On images of
another size than the config's, the grid of position embeddings is resized by bicubic interpolation
(the paper's §3.2 "fine-tuning at higher resolution"; the same call as Hugging Face's).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.models.vit.config import ViTConfig, patch_grid
from lmlab.nn.attention import MultiHeadAttention
from lmlab.nn.blocks import TransformerBlock
from lmlab.nn.embeddings import LearnedPositionalEmbedding
from lmlab.nn.feed_forward import FeedForward
from lmlab.nn.linear import Linear
from lmlab.nn.norms import norm_layer


@torch.no_grad()
def vit_init_(module: nn.Module, std: float = 0.02) -> None:
    """N(0, std) for linear and patch-projection weights, embeddings and [CLS]; zero biases; LayerNorm 1 and 0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            m.weight.normal_(0.0, std)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.Embedding):
            m.weight.normal_(0.0, std)
        elif isinstance(m, nn.LayerNorm):
            m.weight.fill_(1.0)
            m.bias.zero_()
        elif isinstance(m, ViTEmbeddings):
            m.cls_token.normal_(0.0, std)


def resize_positions(table: torch.Tensor, grid_h: int, grid_w: int) -> torch.Tensor:
    """A position table (1 + G², C) learned on a G × G patch grid, for a grid_h × grid_w one: the grid resized
    by bicubic interpolation, [CLS]'s row kept (the table itself when the grids agree)."""
    G = math.isqrt(table.size(0) - 1)
    if (grid_h, grid_w) == (G, G):
        return table
    grid = table[1:].reshape(1, G, G, -1).permute(0, 3, 1, 2)               # (1, C, G, G)
    grid = F.interpolate(grid, size=(grid_h, grid_w), mode="bicubic", align_corners=False)
    return torch.cat((table[:1], grid.permute(0, 2, 3, 1).reshape(grid_h * grid_w, -1)))


class ViTEmbeddings(nn.Module):
    """Patches -> shared projection, [CLS] in front, + learned positions, dropout: (B, 1 + N, C)."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_proj = nn.Conv2d(cfg.n_channels, cfg.d_model, kernel_size=cfg.patch_size, stride=cfg.patch_stride)
        self.cls_token = nn.Parameter(torch.zeros(cfg.d_model))
        self.pos_emb = LearnedPositionalEmbedding(1 + cfg.n_patches, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def positions(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """Position embeddings (1 + grid_h·grid_w, C) for a grid_h × grid_w patch grid: the learned ones, or
        the learned grid resized by bicubic interpolation when the image size differs ([CLS]'s kept)."""
        return resize_positions(self.pos_emb.weight, grid_h, grid_w)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, n_channels, H, W) -> (B, 1 + N, C)
        B, n_channels, H, W = images.shape
        if n_channels != self.cfg.n_channels:
            raise ValueError(f"images have {n_channels} channels; the model takes {self.cfg.n_channels}")
        grid_h = patch_grid(H, self.cfg.patch_size, self.cfg.patch_stride)
        grid_w = patch_grid(W, self.cfg.patch_size, self.cfg.patch_stride)
        x = self.patch_proj(images).flatten(2).transpose(1, 2)              # (B, N, C), row by row
        x = torch.cat((self.cls_token.expand(B, 1, -1), x), dim=1)          # (B, 1 + N, C)
        return self.drop(x + self.positions(grid_h, grid_w))


class ViTOutput(NamedTuple):
    """What ViTModel returns; unpacks as `hidden, pooled = vit(images)`."""
    hidden: torch.Tensor               # (B, 1 + N, C) final state of [CLS] (position 0) and every patch
    pooled: torch.Tensor | None        # (B, C) the pooler (dense + tanh) on [CLS]; None without a pooler


def vit_block(cfg: ViTConfig) -> TransformerBlock:
    """One encoder layer of the shared kind: bidirectional self-attention and a GELU feed-forward, Pre-LN."""
    attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, None, cfg.dropout, bias=True, causal=False,
                              backend=cfg.attn_backend)
    ff = FeedForward(cfg.d_model, cfg.ff_dim, cfg.dropout, cfg.activation)
    norm = lambda: norm_layer("layernorm", cfg.d_model, cfg.norm_eps)
    return TransformerBlock(attn, ff, norm(), norm(), norm_first=True)


class ViTModel(nn.Module):
    """The encoder: patch embeddings, n_layers Pre-LN blocks, a final LayerNorm, the pooler if cfg.pooler."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.cfg = cfg
        self.emb = ViTEmbeddings(cfg)
        self.blocks = nn.ModuleList(vit_block(cfg) for _ in range(cfg.n_layers))
        self.norm_f = norm_layer("layernorm", cfg.d_model, cfg.norm_eps)
        self.pooler = Linear(cfg.d_model, cfg.d_model) if cfg.pooler else None
        vit_init_(self)

    def forward(self, images: torch.Tensor, *, backend: str | None = None) -> ViTOutput:
        """images (B, n_channels, H, W) -> ViTOutput(hidden (B, 1 + N, C), pooled (B, C) or None).
        backend overrides the attention backend of the config for this call."""
        x = self.emb(images)                                                # (B, 1 + N, C)
        for block in self.blocks:
            x = block(x, backend=backend)
        x = self.norm_f(x)
        return ViTOutput(x, torch.tanh(self.pooler(x[:, 0])) if self.pooler is not None else None)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


class ViTForImageClassification(nn.Module):
    """The encoder and a linear classifier on one vector per image: [CLS] (through the pooler if there is one)
    or the mean of the patch tokens. n_classes = 0: no classifier, the pooled vector (B, C) is returned."""

    def __init__(self, encoder: ViTModel | ViTConfig):
        super().__init__()
        self.vit = encoder if isinstance(encoder, ViTModel) else ViTModel(encoder)
        self.cfg = cfg = self.vit.cfg
        self.classifier = Linear(cfg.d_model, cfg.n_classes) if cfg.n_classes else nn.Identity()
        vit_init_(self.classifier)

    def features(self, images: torch.Tensor, *, backend: str | None = None) -> torch.Tensor:
        """One vector per image (B, C), what the classifier reads."""
        hidden, pooled = self.vit(images, backend=backend)
        if pooled is not None:
            return pooled
        return hidden[:, 0] if self.cfg.pool == "cls" else hidden[:, 1:].mean(1)

    def forward(self, images: torch.Tensor, *, backend: str | None = None) -> torch.Tensor:
        """images (B, n_channels, H, W) -> logits (B, n_classes), or (B, C) when n_classes = 0."""
        return self.classifier(self.features(images, backend=backend))

    def fit_positions(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`state_dict` of a ViT of another image size (or stride) with its position table resized to this model's
        patch grid, so that starting from it (`train --init`) keeps the learned positions instead of dropping them."""
        key, G = "vit.emb.pos_emb.weight", self.cfg.grid_size
        if key not in state_dict:
            return state_dict
        return {**state_dict, key: resize_positions(state_dict[key], G, G)}

    num_parameters = ViTModel.num_parameters
