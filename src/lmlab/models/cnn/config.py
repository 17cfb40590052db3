"""CNNConfig: one config for the three convolutional families of the notes (004 四):
AlexNet (Krizhevsky et al. 2012), VGG (Simonyan & Zisserman 2015) and ResNet (He et al. 2016).

`arch` picks the family; `channels` and `layers` describe its stages:
- alexnet: five convolutions of widths `channels` (kernels 11, 5, 3, 3, 3 with the paper's stem stride 4;
  a smaller `stem_kernel`/`stem_stride` fits small images), max-pooling (3×3, stride 2, overlapping)
  after the 1st, 2nd and 5th, LRN after the 1st and 2nd when `lrn`, then a two-hidden-layer classifier;
- vgg: stages of `layers[i]` 3×3 convolutions of width `channels[i]`, each stage closed by 2×2 max-pooling,
  then the same classifier (`batch_norm` adds BatchNorm after every convolution: VGG-BN);
- resnet: a stem (7×7 stride 2 + max-pool, "imagenet"; or 3×3 stride 1, "small"), then stages of
  `layers[i]` residual blocks whose output width is `channels[i]` (`block` basic: two 3×3; bottleneck:
  1×1 → 3×3 → 1×1 at a quarter of the width, stride on the 3×3 as torchvision / Hugging Face), BatchNorm
  everywhere, global average pooling and one linear layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.config import check_choices


@dataclass(frozen=True)
class CNNConfig:
    arch: Literal["alexnet", "vgg", "resnet"] = "resnet"
    image_size: int = 32                    # input height = width, pixels
    in_channels: int = 3                    # 1 grey, 3 RGB
    n_classes: int = 10                     # replaced by the data's number of classes when training
    channels: tuple[int, ...] = (64, 128, 256, 512)  # width of each conv layer (alexnet) or stage (vgg, resnet)
    layers: tuple[int, ...] = (2, 2, 2, 2)  # convs (vgg) or residual blocks (resnet) per stage; unused by alexnet
    block: Literal["basic", "bottleneck"] = "basic"  # resnet's residual block
    stem: Literal["imagenet", "small"] = "imagenet"  # resnet: 7×7/2 + max-pool, or 3×3/1 for small images
    stem_channels: int = 64                 # resnet: width of the stem
    stem_kernel: int = 11                   # alexnet: first convolution's kernel and stride (paper: 11, 4)
    stem_stride: int = 4
    lrn: bool = False                       # alexnet: local response normalisation after conv 1 and 2
    batch_norm: bool = False                # vgg: BatchNorm after each convolution (resnet always has it)
    pool_size: int = 1                      # alexnet/vgg: the last feature map is average-pooled to this side
    d_ff: int = 4096                        # alexnet/vgg: width of the two hidden classifier layers (0: none)
    dropout: float = 0.5                    # alexnet/vgg: dropout before each hidden classifier layer

    def __post_init__(self):
        for name in ("channels", "layers"):  # JSON gives lists; keep the config hashable and comparable
            object.__setattr__(self, name, tuple(getattr(self, name)))
        check_choices(self, "arch", "block", "stem")
        if min(self.image_size, self.in_channels, self.n_classes, self.stem_channels, self.pool_size) <= 0:
            raise ValueError("image_size, in_channels, n_classes, stem_channels and pool_size must be positive")
        if not self.channels or min(self.channels) <= 0:
            raise ValueError(f"channels must be positive widths, got {self.channels}")
        if self.arch == "alexnet" and len(self.channels) != 5:
            raise ValueError(f"alexnet has five convolutions: channels needs 5 widths, got {len(self.channels)}")
        if self.arch != "alexnet" and (len(self.layers) != len(self.channels) or min(self.layers) <= 0):
            raise ValueError(f"layers {self.layers} must give a positive depth for each of the "
                             f"{len(self.channels)} stages in channels")
        if self.arch == "resnet" and self.block == "bottleneck" and any(c % 4 for c in self.channels):
            raise ValueError(f"bottleneck blocks need widths divisible by 4, got {self.channels}")
        if self.d_ff < 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"need d_ff ≥ 0 and 0 ≤ dropout < 1, got {self.d_ff}, {self.dropout}")
        if self.stem_kernel <= 0 or self.stem_stride <= 0:
            raise ValueError("stem_kernel and stem_stride must be positive")
