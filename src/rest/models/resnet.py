"""ResNet-18 trained from scratch.

Inputs of at most 64 pixels get the CIFAR stem (3x3 stride-1 convolution, no max
pool) so a 32x32 image is not shrunk to 8x8 before the first block; larger inputs
(BFFHQ's 128x128, ImageNet-sized images) get the standard 7x7 stride-2 stem with max
pool.
"""

from __future__ import annotations

from torch import nn

from rest.models.registry import MODELS

CIFAR_STEM_MAX_SIZE = 64


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(
        self, num_classes: int, in_channels: int = 3, width: int = 64, cifar_stem: bool = True
    ) -> None:
        super().__init__()
        if cifar_stem:
            stem: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)]
        else:
            stem = [nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)]
        stem += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        if not cifar_stem:
            stem.append(nn.MaxPool2d(3, 2, 1))
        blocks: list[nn.Module] = []
        channels = width
        for stage, out_channels in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if stage == 0 else 2
            blocks += [
                BasicBlock(channels, out_channels, stride),
                BasicBlock(out_channels, out_channels, 1),
            ]
            channels = out_channels
        self.features = nn.Sequential(*stem, *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


@MODELS.register("resnet18")
def build_resnet18(
    num_classes: int, input_shape: tuple[int, int, int], width: int | None
) -> nn.Module:
    cifar_stem = max(input_shape[1:]) <= CIFAR_STEM_MAX_SIZE
    return ResNet18(num_classes, input_shape[0], width or 64, cifar_stem=cifar_stem)
