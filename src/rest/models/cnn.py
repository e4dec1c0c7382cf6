"""The 3-layer CNN used for Colored MNIST by LfF, DisEnt and REST."""

from __future__ import annotations

from torch import nn

from rest.models.registry import MODELS


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SimpleCNN(nn.Module):
    """Three stride-2 4x4 convolutions (width, 2x, 4x channels), average pool, linear."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(in_channels, width),
            _conv_block(width, 2 * width),
            _conv_block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


@MODELS.register("cnn")
def build_cnn(num_classes: int, input_shape: tuple[int, int, int], width: int | None) -> nn.Module:
    return SimpleCNN(num_classes, in_channels=input_shape[0], width=width or 64)
