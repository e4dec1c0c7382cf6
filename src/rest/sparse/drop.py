"""Drop rules: which active weights a dynamic mask update removes.

A rule maps ``(weight, grad, generator)`` to an importance score shaped like the
weight; the update drops the active positions with the *lowest* scores. New rules
are one function plus one ``@DROP_RULES.register`` line.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rest.registry import Registry

DropRule = Callable[[Tensor, Tensor | None, torch.Generator], Tensor]

DROP_RULES: Registry[DropRule] = Registry("drop rule")


@DROP_RULES.register("magnitude")
def magnitude(weight: Tensor, grad: Tensor | None, generator: torch.Generator) -> Tensor:
    """Small weights contribute least to the output, so they go first (RigL, SET)."""
    return weight.abs()
