"""Image backbones: torchvision ResNet-18/50 (optional CIFAR stem) and a small CNN for 28×28 inputs.

``build_backbone(name, ...)`` returns ``(module, feature_dim)``: the module maps images
[B, C, H, W] to features [B, feature_dim] (global-average-pooled, before any projector). Weights are
randomly initialised (``weights=None``): self-supervised training starts from scratch.

All modules work with ``channels_last`` memory format
(``model.to(memory_format=torch.channels_last)`` and inputs converted the same way); nothing in
them assumes contiguous NCHW strides.
"""

from __future__ import annotations

import torch
from torch import nn

BACKBONES = ("smallcnn", "resnet18", "resnet50")


class SmallCNN(nn.Module):
    """Three conv-BN-ReLU blocks (widths w, 2w, 4w), two 2×2 max-pools, global average pool.

    Made for 28×28 greyscale images (Fashion-MNIST: 28 → 14 → 7 spatial), but accepts any size
    ≥ 4×4 because of the adaptive pooling. Output dimension ``4 * width``.
    """

    def __init__(self, in_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1, bias=False),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.feature_dim = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _resnet(name: str, *, cifar_stem: bool, in_channels: int) -> tuple[nn.Module, int]:
    from torchvision import models

    net = getattr(models, name)(weights=None)
    feature_dim = net.fc.in_features
    if cifar_stem:
        # 3×3 stride-1 stem, no max-pool: keeps 32×32 inputs at 32×32 into layer1 (SimCLR appendix).
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.fc = nn.Identity()
    return net, feature_dim


def build_backbone(
    name: str,
    *,
    cifar_stem: bool = False,
    in_channels: int = 3,
    width: int = 32,
) -> tuple[nn.Module, int]:
    """Build an image encoder by name; return ``(module, feature_dim)``.

    Args:
        name: one of ``BACKBONES`` — ``"smallcnn"`` (28×28 inputs; ``width`` sets its channels,
            feature dim ``4 * width``), ``"resnet18"`` (512-d) or ``"resnet50"`` (2048-d).
        cifar_stem: ResNets only: replace the 7×7/2 conv + max-pool stem by a 3×3/1 conv and no
            pool (the usual choice for 32×32 and 64×64 images). Ignored by ``smallcnn``.
        in_channels: image channels (1 for Fashion-MNIST/digits, 3 for RGB).
        width: base width of ``smallcnn`` (ignored by ResNets).
    """
    if not isinstance(name, str):
        raise TypeError(f"backbone name must be a string, got {type(name).__name__}")
    key = name.lower()
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}")
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
    if key == "smallcnn":
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        net = SmallCNN(in_channels=in_channels, width=width)
        return net, net.feature_dim
    return _resnet(key, cifar_stem=bool(cifar_stem), in_channels=in_channels)
