"""lmlab.models.vit.model: the patch projection is one shared linear map of flattened patches, overlapping
strides give the counted number of tokens, positions are interpolated on other image sizes, heads pool."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmlab.models.vit import ViTConfig, ViTForImageClassification, ViTModel, count_parameters

TINY = ViTConfig(image_size=12, patch_size=4, n_channels=3, d_model=32, n_heads=4, n_layers=2, n_classes=7)


def _cfg(**kw) -> ViTConfig:
    return ViTConfig(**{**TINY.__dict__, **kw})


@pytest.mark.parametrize("stride", [4, 2, 1])
def test_patch_projection_is_one_linear_map_of_flattened_patches(stride):
    """Conv2d(kernel P, stride S) == unfold into P·P·C vectors (the notes' 16×16×3 = 768) times one shared matrix."""
    emb = ViTModel(_cfg(stride=stride)).emb
    x = torch.randn(2, 3, 12, 12)
    patches = F.unfold(x, kernel_size=4, stride=stride).transpose(1, 2)       # (B, N, 4·4·3 = 48)
    assert patches.shape[-1] == emb.cfg.patch_dim == 48
    w = emb.patch_proj.weight.reshape(32, -1)                                 # (C, 48): one matrix for all
    by_hand = patches @ w.T + emb.patch_proj.bias
    conv = emb.patch_proj(x).flatten(2).transpose(1, 2)
    torch.testing.assert_close(conv, by_hand, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride,side", [(4, 3), (2, 5), (1, 9), (8, 2)])
def test_overlapping_strides_give_the_counted_tokens(stride, side):
    model = ViTForImageClassification(_cfg(stride=stride)).eval()
    assert model.cfg.grid_size == side and model.cfg.n_patches == side * side
    hidden, pooled = model.vit(torch.randn(2, 3, 12, 12))
    assert hidden.shape == (2, 1 + side * side, 32) and pooled is None
    assert model(torch.randn(2, 3, 12, 12)).shape == (2, 7)
    assert model.num_parameters() == count_parameters(model.cfg)


def test_positions_are_interpolated_for_another_image_size():
    model = ViTForImageClassification(TINY).eval()
    emb = model.vit.emb
    torch.testing.assert_close(emb.positions(3, 3), emb.pos_emb.weight, rtol=0, atol=0)  # its own size: as learned
    pos = emb.positions(6, 6)                                                 # a 24² image: 6×6 patches
    assert pos.shape == (37, 32)
    torch.testing.assert_close(pos[0], emb.pos_emb.weight[0], rtol=0, atol=0)  # [CLS] kept
    grid = emb.pos_emb.weight[1:].reshape(3, 3, 32)
    mean_back = pos[1:].reshape(6, 6, 32).reshape(3, 2, 3, 2, 32).mean((1, 3))  # 2×2 averages of the 6×6 grid
    assert (mean_back - grid).abs().max() < 0.5 * grid.abs().max()          # smooth resize, not a reshuffle
    assert model(torch.randn(2, 3, 24, 24)).shape == (2, 7)
    assert model(torch.randn(2, 3, 16, 20)).shape == (2, 7)                  # non-square: a 4×5 grid


def test_fit_positions_gives_a_larger_model_what_the_small_one_computes_at_that_size():
    """The weights of a 12² model fitted to a 24² one (train --init at another --input_size): the 24² model
    computes on 24² images exactly what the 12² model does with its positions interpolated on the fly."""
    small, large = ViTForImageClassification(TINY).eval(), ViTForImageClassification(_cfg(image_size=24)).eval()
    fitted = large.fit_positions(small.state_dict())
    assert small.state_dict()["vit.emb.pos_emb.weight"].shape == (10, 32)       # 1 + 3×3
    assert fitted["vit.emb.pos_emb.weight"].shape == (37, 32)                    # 1 + 6×6
    large.load_state_dict(fitted)
    x = torch.randn(2, 3, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(large(x), small(x), rtol=1e-5, atol=1e-5)
    own = small.state_dict()
    assert small.fit_positions(own)["vit.emb.pos_emb.weight"] is own["vit.emb.pos_emb.weight"]  # same size: as is


def test_mean_pool_cls_pool_and_pooler():
    x = torch.randn(2, 3, 12, 12)
    torch.manual_seed(0)
    cls = ViTForImageClassification(_cfg(n_classes=0)).eval()
    hidden = cls.vit(x).hidden
    torch.testing.assert_close(cls(x), hidden[:, 0])
    torch.manual_seed(0)
    mean = ViTForImageClassification(_cfg(n_classes=0, pool="mean")).eval()
    torch.testing.assert_close(mean(x), hidden[:, 1:].mean(1))              # the patches only, not [CLS]
    pooled = ViTForImageClassification(_cfg(n_classes=0, pooler=True)).eval()
    out = pooled(x)
    assert out.shape == (2, 32) and out.abs().max() <= 1                     # tanh


def test_wrong_channels_and_a_patch_that_does_not_fit_fail_clearly():
    model = ViTForImageClassification(TINY)
    with pytest.raises(ValueError, match="1 channels; the model takes 3"):
        model(torch.randn(1, 1, 12, 12))
    with pytest.raises(ValueError, match="does not fit"):
        model(torch.randn(1, 3, 3, 3))


def test_gradients_reach_every_parameter():
    model = ViTForImageClassification(_cfg(stride=2))
    model(torch.randn(2, 3, 12, 12)).logsumexp(-1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
