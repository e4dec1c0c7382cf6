"""Network architectures, built by name.

``build_model("cnn", num_classes=10, input_shape=(3, 28, 28))``. ``width`` scales
the channel (or hidden-unit) count; ``None`` keeps the published width.
"""

from __future__ import annotations

from torch import nn

from rest.models import cnn, mlp, resnet  # noqa: F401  (registers the models)
from rest.models.registry import MODELS


def build_model(
    name: str,
    num_classes: int,
    input_shape: tuple[int, int, int],
    width: int | None = None,
) -> nn.Module:
    """Build a registered model for images of ``input_shape`` = (C, H, W)."""
    return MODELS.get(name)(num_classes, tuple(input_shape), width)


__all__ = ["MODELS", "build_model"]
