"""Grow rules: which inactive positions a dynamic mask update brings back.

A rule maps ``(weight, grad, generator)`` to a non-negative score shaped like the
weight; the update grows the non-surviving positions with the *highest* scores
(the non-negativity lets ``regrow_dropped=False`` rank just-dropped positions below
every other inactive one). ``dense_gradient`` says whether the rule reads the gradient of the
inactive weights, which costs a dense backward pass at update steps (counted in
the training FLOPs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from rest.registry import Registry


@dataclass(frozen=True)
class GrowRule:
    score: Callable[[Tensor, Tensor | None, torch.Generator], Tensor]
    dense_gradient: bool


GROW_RULES: Registry[GrowRule] = Registry("grow rule")


def _gradient(weight: Tensor, grad: Tensor | None, generator: torch.Generator) -> Tensor:
    """RigL: the connections whose gradient is largest would reduce the loss fastest."""
    if grad is None:
        raise ValueError("the gradient grow rule needs the weight's gradient")
    return grad.abs()


def _random(weight: Tensor, grad: Tensor | None, generator: torch.Generator) -> Tensor:
    """SET: uniform exploration, no gradient needed."""
    return torch.rand(weight.shape, generator=generator, device=weight.device)


GROW_RULES.register("gradient")(GrowRule(_gradient, dense_gradient=True))
GROW_RULES.register("random")(GrowRule(_random, dense_gradient=False))
