"""The CNN line of the notes (004 四), one readable model per paper, all behind one `CNN` module:

- AlexNet (Krizhevsky, Sutskever & Hinton 2012): ReLU, overlapping 3×3/2 max-pooling, local response
  normalisation, dropout in the classifier; here in one tower (the paper split it over two GPUs).
- VGG (Simonyan & Zisserman 2015): only 3×3 convolutions, stacked; two 3×3 see what one 5×5 sees with
  18C² instead of 25C² weights (`lmlab explain receptive-field`).
- ResNet (He et al. 2016): residual blocks y = relu(F(x) + shortcut(x)) with BatchNorm; the shortcut is
  the identity, or a strided 1×1 convolution + BatchNorm where the shape changes.

Images are (B, C, H, W). `features` gives the last feature map (B, C', H', W') — Hugging Face
ResNetModel's last_hidden_state for a ResNet — and `forward` the class logits (B, n_classes).
Convolutions and BatchNorm are torch's (lmlab.nn.norms.BatchNorm is the written-out 1-D version; the
2-D layer here must call the same kernels as the references it is timed against).
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.models.cnn.config import CNNConfig


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """A bias-free convolution ("same" padding) followed by BatchNorm: ResNet's unit."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """Two 3×3 convolutions (ResNet-18/34); the first may stride to halve the map."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1, self.conv2 = conv_bn(c_in, c_out, 3, stride), conv_bn(c_out, c_out, 3)
        self.shortcut = conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:                     # (B, C, H, W)
        h = self.conv2(torch.relu_(self.conv1(x)))  # in place: BatchNorm's backward needs its input, not output
        return torch.relu_(h.add_(x if self.shortcut is None else self.shortcut(x)))


class Bottleneck(nn.Module):
    """1×1 down to a quarter of the width, 3×3 (strided, as torchvision's "ResNet v1.5"), 1×1 back up
    (ResNet-50/101/152)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        mid = c_out // 4
        self.conv1, self.conv2, self.conv3 = conv_bn(c_in, mid, 1), conv_bn(mid, mid, 3, stride), conv_bn(mid, c_out, 1)
        self.shortcut = conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv3(torch.relu_(self.conv2(torch.relu_(self.conv1(x)))))
        return torch.relu_(h.add_(x if self.shortcut is None else self.shortcut(x)))


def alexnet_features(cfg: CNNConfig) -> nn.Sequential:
    """Five convolutions (kernels stem, 5, 3, 3, 3), pools after the 1st, 2nd and 5th, LRN after the 1st two.
    The paper's LRN: b = a / (k + α·Σ a²)^β with k 2, n 5, α 1e-4, β 0.75; torch divides α by n, hence 5e-4."""
    c1, c2, c3, c4, c5 = cfg.channels
    lrn = (lambda: [nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)]) if cfg.lrn else list
    pool = lambda: nn.MaxPool2d(3, 2)  # noqa: E731  overlapping pooling (§3.4)
    k, s = cfg.stem_kernel, cfg.stem_stride
    return nn.Sequential(
        nn.Conv2d(cfg.in_channels, c1, k, s, (k - s) // 2), nn.ReLU(inplace=True), *lrn(), pool(),
        nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=True), *lrn(), pool(),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(inplace=True), pool())


def vgg_features(cfg: CNNConfig) -> nn.Sequential:
    """Stages of 3×3 convolutions (+ BatchNorm for VGG-BN), each closed by 2×2 max-pooling."""
    layers: list[nn.Module] = []
    c_in = cfg.in_channels
    for width, depth in zip(cfg.channels, cfg.layers):
        for _ in range(depth):
            layers += [nn.Conv2d(c_in, width, 3, padding=1), *([nn.BatchNorm2d(width)] if cfg.batch_norm else []),
                       nn.ReLU(inplace=True)]
            c_in = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class CNN(nn.Module):
    """AlexNet, VGG or ResNet, by `cfg.arch`: features -> average pool -> classifier."""

    def __init__(self, cfg: CNNConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.arch == "resnet":
            if cfg.stem == "imagenet":
                self.stem = nn.Sequential(*conv_bn(cfg.in_channels, cfg.stem_channels, 7, 2), nn.ReLU(inplace=True),
                                          nn.MaxPool2d(3, 2, 1))
            else:
                self.stem = nn.Sequential(*conv_bn(cfg.in_channels, cfg.stem_channels, 3), nn.ReLU(inplace=True))
            block = BasicBlock if cfg.block == "basic" else Bottleneck
            stages, c_in = [], cfg.stem_channels
            for i, (width, depth) in enumerate(zip(cfg.channels, cfg.layers)):
                stride = 1 if i == 0 else 2  # the first stage keeps the stem's resolution
                stages.append(nn.Sequential(*(block(c_in if j == 0 else width, width, stride if j == 0 else 1)
                                              for j in range(depth))))
                c_in = width
            self.stages = nn.Sequential(*stages)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier: nn.Module = nn.Linear(c_in, cfg.n_classes)
        else:
            self.features = alexnet_features(cfg) if cfg.arch == "alexnet" else vgg_features(cfg)
            self.pool = nn.AdaptiveAvgPool2d(cfg.pool_size)
            flat = cfg.channels[-1] * cfg.pool_size ** 2
            if cfg.d_ff:  # the papers' two hidden layers of 4096, each after dropout
                self.classifier = nn.Sequential(
                    nn.Dropout(cfg.dropout), nn.Linear(flat, cfg.d_ff), nn.ReLU(inplace=True),
                    nn.Dropout(cfg.dropout), nn.Linear(cfg.d_ff, cfg.d_ff), nn.ReLU(inplace=True),
                    nn.Linear(cfg.d_ff, cfg.n_classes))
            else:
                self.classifier = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(flat, cfg.n_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        """He (Kaiming) normal for convolutions (ReLU nets, He et al. 2015); BatchNorm γ 1, β 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features_of(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, C', H', W') the last feature map."""
        if self.cfg.arch == "resnet":
            return self.stages(self.stem(pixel_values))
        return self.features(pixel_values)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, n_classes) logits."""
        return self.classifier(torch.flatten(self.pool(self.features_of(pixel_values)), 1))

    def first_conv(self) -> nn.Conv2d:
        """The first convolution: its filters are what `lmlab train cnn` draws in filters.png."""
        return next(m for m in self.modules() if isinstance(m, nn.Conv2d))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
