"""Model registry: a name maps to ``builder(num_classes, input_shape, width) -> nn.Module``."""

from __future__ import annotations

from typing import Protocol

from torch import nn

from rest.registry import Registry


class ModelBuilder(Protocol):
    def __call__(
        self, num_classes: int, input_shape: tuple[int, int, int], width: int | None
    ) -> nn.Module: ...


MODELS: Registry[ModelBuilder] = Registry("model")
