"""Named CNN sizes; the full-size ones have the published parameter counts (1000 ImageNet classes, 224×224 RGB).

- alexnet: the paper's network (Krizhevsky et al. 2012) in one tower, with LRN: 96-256-384-384-256
  channels, 62,378,344 parameters (the two-tower original has fewer: its conv2, 4 and 5 see only half
  of the previous layer's channels).
- alexnet-tv: the widely used variant (One weird trick, Krizhevsky 2014; torchvision's) without LRN and
  with 64-192-384-256-256 channels, 61,100,840 parameters.
- vgg11 / vgg16: configurations A and D of Simonyan & Zisserman (2015), 132,863,336 / 138,357,544.
- resnet18 / resnet50: He et al. (2016), 11,689,512 / 25,557,032 (torchvision's and Hugging Face's).
- small presets for the 8×8 grey digits and for 32×32 images (CIFAR-sized), trained on a CPU in minutes.
"""

from __future__ import annotations

from lmlab.config import config_from_dict
from lmlab.errors import LmlabError
from lmlab.models.cnn.config import CNNConfig

_IMAGENET = dict(image_size=224, in_channels=3, n_classes=1000)
_VGG = dict(**_IMAGENET, arch="vgg", channels=(64, 128, 256, 512, 512), pool_size=7, d_ff=4096)
_RESNET = dict(**_IMAGENET, arch="resnet", stem="imagenet")

PRESETS: dict[str, dict] = {
    # small: 8×8 grey (scikit-learn digits) and 32×32 RGB
    "resnet-digits": dict(arch="resnet", image_size=8, in_channels=1, stem="small", stem_channels=32,
                          channels=(32, 64), layers=(2, 2)),
    "vgg-digits": dict(arch="vgg", image_size=8, in_channels=1, channels=(32, 64), layers=(2, 2), batch_norm=True,
                       pool_size=1, d_ff=0, dropout=0.2),
    "resnet-small": dict(arch="resnet", image_size=32, stem="small", stem_channels=32, channels=(32, 64, 128),
                         layers=(2, 2, 2)),
    "vgg-small": dict(arch="vgg", image_size=32, channels=(32, 64, 128), layers=(1, 1, 2), batch_norm=True,
                      pool_size=1, d_ff=256, dropout=0.3),
    "alexnet-small": dict(arch="alexnet", image_size=32, channels=(32, 64, 96, 96, 64), stem_kernel=3,
                          stem_stride=1, lrn=True, pool_size=1, d_ff=256, dropout=0.3),
    # published sizes
    "alexnet": dict(**_IMAGENET, arch="alexnet", channels=(96, 256, 384, 384, 256), lrn=True, pool_size=6),
    "alexnet-tv": dict(**_IMAGENET, arch="alexnet", channels=(64, 192, 384, 256, 256), pool_size=6),
    "vgg11": dict(**_VGG, layers=(1, 1, 2, 2, 2)),
    "vgg16": dict(**_VGG, layers=(2, 2, 3, 3, 3)),
    "resnet18": dict(**_RESNET, channels=(64, 128, 256, 512), layers=(2, 2, 2, 2), block="basic"),
    "resnet34": dict(**_RESNET, channels=(64, 128, 256, 512), layers=(3, 4, 6, 3), block="basic"),
    "resnet50": dict(**_RESNET, channels=(256, 512, 1024, 2048), layers=(3, 4, 6, 3), block="bottleneck"),
}

PUBLISHED = {"alexnet": 62_378_344, "alexnet-tv": 61_100_840, "vgg11": 132_863_336, "vgg16": 138_357_544,
             "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032}


def preset(name: str) -> CNNConfig:
    if name not in PRESETS:
        raise LmlabError(f"unknown CNN preset '{name}'; presets: {', '.join(PRESETS)}")
    return config_from_dict(CNNConfig, PRESETS[name])


def count_parameters(cfg: CNNConfig) -> int:
    """Parameters of a CNN with this config, counted on a model built on the meta device (no memory)."""
    import torch

    from lmlab.models.cnn.model import CNN
    with torch.device("meta"):
        return CNN(cfg).num_parameters()
