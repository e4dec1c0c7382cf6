"""A fully connected network over flattened images (LfF's Colored-MNIST MLP)."""

from __future__ import annotations

import math

from torch import nn

from rest.models.registry import MODELS


class MLP(nn.Module):
    """Flatten, three hidden ReLU layers of ``width`` units, linear classifier."""

    def __init__(self, num_classes: int, input_size: int, width: int = 100, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        size = input_size
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU(inplace=True)]
            size = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(size, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


@MODELS.register("mlp")
def build_mlp(num_classes: int, input_shape: tuple[int, int, int], width: int | None) -> nn.Module:
    return MLP(num_classes, input_size=math.prod(input_shape), width=width or 100)
