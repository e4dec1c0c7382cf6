"""ResNet-18 trained from scratch, in two variants that differ only in the stem.

``resnet18`` is the network LfF, DisEnt and the official REST code train on
Corrupted CIFAR-10 and BFFHQ: torchvision's ImageNet stem (7x7 stride-2 convolution
and a stride-2 max pool) at every input size, so a 32x32 image reaches the first
block at 8x8. ``resnet18-cifar`` keeps the CIFAR stem (3x3 stride-1 convolution, no
max pool): the blocks see the full 32x32 image, which costs about 15 times the FLOPs
and is not comparable with the published numbers.
"""

from __future__ import annotations

from torch import nn

from rest.models.registry import MODELS


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
    """The published ResNet-18: ImageNet stem at every input size."""
    return ResNet18(num_classes, input_shape[0], width or 64, cifar_stem=False)


@MODELS.register("resnet18-cifar")
def build_resnet18_cifar(
    num_classes: int, input_shape: tuple[int, int, int], width: int | None
) -> nn.Module:
    """ResNet-18 with the CIFAR stem: full resolution through the first stage."""
    return ResNet18(num_classes, input_shape[0], width or 64, cifar_stem=True)
