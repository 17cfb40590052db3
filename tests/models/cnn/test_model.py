"""The CNN module: output shapes of the small presets, residual shortcuts, LRN, config checks."""

from __future__ import annotations

import pytest
import torch

from lmlab.models.cnn import CNN, CNNConfig, preset
from lmlab.models.cnn.model import BasicBlock, Bottleneck


@pytest.mark.parametrize("name", ["resnet-digits", "vgg-digits", "resnet-small", "vgg-small", "alexnet-small"])
def test_small_presets_classify(name):
    cfg = preset(name)
    model = CNN(cfg)
    x = torch.randn(3, cfg.in_channels, cfg.image_size, cfg.image_size)
    assert model(x).shape == (3, cfg.n_classes)
    assert model.first_conv().in_channels == cfg.in_channels


def test_full_alexnet_map_is_6x6_and_lrn_present():
    model = CNN(preset("alexnet"))
    assert any(isinstance(m, torch.nn.LocalResponseNorm) for m in model.modules())
    with torch.no_grad():
        assert model.features(torch.randn(1, 3, 224, 224)).shape == (1, 256, 6, 6)


def test_shortcuts_only_where_the_shape_changes():
    assert BasicBlock(16, 16, 1).shortcut is None and BasicBlock(16, 32, 2).shortcut is not None
    assert Bottleneck(16, 64, 1).shortcut is not None and Bottleneck(64, 64, 1).shortcut is None


def test_resnet50_strides_on_the_3x3():
    block = CNN(preset("resnet50")).stages[1][0]
    assert (block.conv1[0].stride, block.conv2[0].stride) == ((1, 1), (2, 2))


@pytest.mark.parametrize("bad", [dict(arch="alexnet", channels=(1, 2, 3)), dict(layers=(2, 2)),
                                 dict(block="bottleneck", channels=(6, 8, 8, 8)), dict(dropout=1.0),
                                 dict(arch="lenet")])
def test_bad_configs(bad):
    with pytest.raises(ValueError):
        CNNConfig(**bad)


def test_list_keys_from_the_command_line():
    from lmlab.config import replace
    from lmlab.errors import LmlabError
    assert replace(preset("resnet-digits"), {"channels": "[8,16]"}).channels == (8, 16)
    with pytest.raises(LmlabError, match=r"channels expects a JSON value such as \[32,64\], got '8,16'"):
        replace(preset("resnet-digits"), {"channels": "8,16"})
