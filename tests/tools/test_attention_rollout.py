"""lmlab.tools.attention_rollout: rollout is Abnar & Zuidema's product of residual-mixed attentions (checked
against the formula written out with numpy), per-pixel scores average the covering patches (any stride),
and a ViT's picture is written."""

from __future__ import annotations

import numpy as np
import torch

from lmlab.models.vit import ViTConfig, ViTForImageClassification
from lmlab.tools.attention_rollout import attention_rollout, patches_to_pixels, save_vit_rollout, vit_rollout


def _numpy_rollout(attentions: list[np.ndarray]) -> np.ndarray:
    """Eq. 1 of the paper for one image: Ã_l = 0.5 A_l + 0.5 I (rows renormalised), rollout = Ã_L … Ã_1."""
    out = np.eye(attentions[0].shape[-1])
    for a in attentions:
        a = 0.5 * a.mean(0) + 0.5 * np.eye(a.shape[-1])
        out = (a / a.sum(-1, keepdims=True)) @ out
    return out


def test_rollout_is_the_papers_product():
    g = torch.Generator().manual_seed(0)
    atts = [torch.randn(2, 3, 5, 5, generator=g).softmax(-1) for _ in range(4)]
    got = attention_rollout(atts)
    for b in range(2):
        np.testing.assert_allclose(got[b].numpy(), _numpy_rollout([a[b].numpy() for a in atts]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.sum(-1), torch.ones(2, 5))                       # still a distribution
    torch.testing.assert_close(attention_rollout(atts[:1], residual=False), atts[0].mean(1))


def test_patch_scores_spread_over_the_pixels_they_cover():
    scores = torch.arange(4.0).reshape(1, 2, 2)
    side_by_side = patches_to_pixels(scores, 2, 2, (4, 4))[0]
    assert side_by_side[:2, :2].eq(0).all() and side_by_side[2:, 2:].eq(3).all()
    overlapping = patches_to_pixels(scores, 3, 1, (4, 4))[0]                       # 2×2 patches of 3×3
    assert overlapping[0, 0] == 0 and overlapping[3, 3] == 3
    assert overlapping[1, 1] == 1.5                                                # covered by all four: mean


def test_vit_rollout_shape_and_picture(tmp_path):
    torch.manual_seed(0)
    model = ViTForImageClassification(ViTConfig(image_size=8, patch_size=4, stride=2, n_channels=1, d_model=16,
                                                n_heads=2, n_layers=2, n_classes=3))
    model.train()
    scores = vit_rollout(model, torch.randn(2, 1, 8, 8))
    assert scores.shape == (2, 3, 3) and (scores > 0).all() and scores.sum((1, 2)).lt(1).all()  # [CLS] keeps some
    assert model.training                                                          # left as it was
    path = save_vit_rollout(model, torch.randn(1, 8, 8), tmp_path / "rollout.png", title="digit 3")
    assert path.stat().st_size > 1000


def test_a_mean_pooled_head_reads_the_mean_of_the_patch_rows():
    torch.manual_seed(0)
    cfg = dict(image_size=8, patch_size=2, n_channels=1, d_model=16, n_heads=2, n_layers=2, n_classes=3)
    x = torch.randn(1, 1, 8, 8)
    mean = ViTForImageClassification(ViTConfig(**cfg, pool="mean"))
    cls = ViTForImageClassification(ViTConfig(**cfg))
    cls.load_state_dict(mean.state_dict())                                          # the same weights
    from lmlab.tools.attention_map import layer_attention_weights
    roll = attention_rollout(layer_attention_weights([b.attn for b in mean.vit.blocks], lambda: mean.eval()(x)))
    torch.testing.assert_close(vit_rollout(mean, x).flatten(), roll[0, 1:, 1:].mean(0))
    torch.testing.assert_close(vit_rollout(cls, x).flatten(), roll[0, 0, 1:])
