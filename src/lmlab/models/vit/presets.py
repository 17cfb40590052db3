"""Named ViT sizes, and the parameter count of a config computed from its shapes.

ViT-Base/16, ViT-Large/16 and ViT-Huge/14: Dosovitskiy et al. 2021, Table 1 (86M, 307M, 632M; the released ImageNet-1k models have 86M, 304M, 632M). The exact
counts in `PUBLISHED` are those of the released ImageNet-1k classifiers at 224² (a 1000-class linear head,
no pre-logits layer): google/vit-base-patch16-224 and timm's vit_large_patch16_224 / vit_huge_patch14_224.
Small presets train on a CPU: DeiT-Tiny's width (Touvron et al. 2021: d_model 192, 3 heads) on 32² images,
and `vit-digits` for scikit-learn's 8×8 grey digits (2×2 patches, 16 of them).
"""

from __future__ import annotations

from lmlab.errors import LmlabError
from lmlab.models.vit.config import ViTConfig

PRESETS: dict[str, dict] = {
    # small CPU presets
    "vit-digits": dict(image_size=8, patch_size=2, n_channels=1, d_model=64, n_heads=4, n_layers=4, d_ff=128,
                       dropout=0.1, n_classes=10),
    "vit-tiny": dict(image_size=32, patch_size=4, d_model=192, n_heads=3, n_layers=6, dropout=0.1, n_classes=10),
    # published sizes (Dosovitskiy et al. 2021, Table 1), ImageNet-1k heads at 224²
    "vit-b16": dict(patch_size=16, d_model=768, n_heads=12, n_layers=12),
    "vit-l16": dict(patch_size=16, d_model=1024, n_heads=16, n_layers=24),
    "vit-h14": dict(patch_size=14, d_model=1280, n_heads=16, n_layers=32),
}

# Parameters of the released 224² ImageNet-1k classifiers (the paper rounds them: 86M / 307M / 632M).
PUBLISHED: dict[str, int] = {
    "vit-b16": 86_567_656,    # google/vit-base-patch16-224, timm vit_base_patch16_224
    "vit-l16": 304_326_632,   # timm vit_large_patch16_224 (Table 1 of the paper prints 307M)
    "vit-h14": 632_045_800,   # timm vit_huge_patch14_224
}


def preset(name: str, **overrides) -> ViTConfig:
    """The ViTConfig of a named preset, with keyword overrides."""
    if name not in PRESETS:
        raise LmlabError(f"unknown preset '{name}'; choose from: {', '.join(PRESETS)}")
    return ViTConfig(**{**PRESETS[name], **overrides})


def count_parameters(cfg: ViTConfig) -> int:
    """Parameters of a ViTForImageClassification with this config, from the shapes (no model is built)."""
    C, F, L = cfg.d_model, cfg.ff_dim, cfg.n_layers
    norm = 2 * C                                            # LayerNorm gain and bias
    patch = cfg.patch_dim * C + C                           # the shared projection of a flattened patch
    emb = patch + C + (cfg.n_patches + 1) * C               # + [CLS] + one position per patch and [CLS]
    block = 4 * (C * C + C) + (C * F + F + F * C + C) + 2 * norm
    pooler = C * C + C if cfg.pooler else 0
    head = cfg.n_classes * C + cfg.n_classes
    return emb + L * block + norm + pooler + head


def facts(cfg: ViTConfig) -> list[str]:
    """What `lmlab info` adds for a ViT: the patches an image is cut into, and the sequence the encoder reads."""
    return [f"  patch_dim     {cfg.patch_dim} (= {cfg.patch_size}×{cfg.patch_size}×{cfg.n_channels} values a patch)",
            f"  patches       n_patches {cfg.n_patches} ({cfg.grid_size}×{cfg.grid_size}, stride {cfg.patch_stride}); "
            f"sequence {cfg.n_patches + 1} with [CLS]"]
