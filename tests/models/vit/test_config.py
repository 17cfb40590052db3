"""lmlab.models.vit.config: the patch grid (any stride ≥ 1) and one-line refusals of grids that do not fit."""

from __future__ import annotations

import pytest

from lmlab.models.vit.config import ViTConfig, patch_grid


@pytest.mark.parametrize("image,patch,stride,side", [(224, 16, 16, 14), (224, 16, 8, 27), (224, 14, 14, 16),
                                                     (8, 2, 2, 4), (8, 2, 1, 7), (8, 4, 2, 3), (8, 8, 1, 1),
                                                     (32, 4, 7, 5)])
def test_patch_grid(image, patch, stride, side):
    assert patch_grid(image, patch, stride) == side


@pytest.mark.parametrize("image,patch,stride,match", [
    (8, 9, 1, "a 9×9 patch does not fit in an image of 8×8 pixels"),
    (8, 2, 9, "stride 9 is larger than the image"),
    (30, 8, 8, "leave the last 6 pixels of a 30-pixel side uncovered; use image_size 24 or 32"),
    (8, 2, 0, "stride must be ≥ 1")])
def test_grids_that_do_not_fit_are_refused_in_one_line(image, patch, stride, match):
    with pytest.raises(ValueError, match=match) as e:
        patch_grid(image, patch, stride)
    assert "\n" not in str(e.value)


def test_config_defaults_and_checks():
    cfg = ViTConfig()
    assert (cfg.patch_stride, cfg.grid_size, cfg.n_patches, cfg.patch_dim, cfg.ff_dim) == (16, 14, 196, 768, 3072)
    assert ViTConfig(stride=8).n_patches == 27 * 27
    for bad in (dict(d_model=100), dict(stride=-1), dict(pool="max"), dict(pool="mean", pooler=True),
                dict(n_classes=-1), dict(patch_size=300)):
        with pytest.raises(ValueError):
            ViTConfig(**bad)
