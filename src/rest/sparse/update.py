"""Mask-update mechanics of dynamic sparse training (RigL, SET): drop and grow.

:class:`~rest.sparse.training.SparseTraining` decides *when* an update happens and
in which order relative to the optimizer step (the published after-step order keeps
the dense gradient with :func:`update_gradients` before the step and updates after
it; ``before-step`` updates at once); this module does the update itself. Each
update drops ``n`` active weights of a layer and grows ``n`` others, so per-layer
active counts never change; changed positions go to exactly zero with zeroed
optimizer state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rest.sparse.config import SparseConfig
from rest.sparse.drop import DROP_RULES
from rest.sparse.grow import GROW_RULES
from rest.sparse.schedules import ALPHA_SCHEDULES
from rest.sparse.strategies import Strategy


@dataclass
class MaskedLayer:
    """A sparse weight: its mask, the mask's complement (for ``masked_fill_``, which
    writes +0.0 where a multiply would leave -0.0) and every position ever active."""

    param: nn.Parameter
    count: int
    mask: Tensor
    inactive: Tensor
    ever_active: Tensor

    def set_mask(self, mask: Tensor) -> None:
        self.mask.copy_(mask)
        torch.logical_not(self.mask, out=self.inactive)
        self.ever_active |= self.mask

    def to(self, device: torch.device) -> None:
        self.mask = self.mask.to(device)
        self.inactive = self.inactive.to(device)
        self.ever_active = self.ever_active.to(device)


def update_gradients(
    strategy: Strategy, layers: dict[str, MaskedLayer]
) -> dict[str, Tensor | None]:
    """Each layer's dense gradient (a copy when the grow rule ranks by it), taken before
    the gradients are masked so an after-step update still sees it."""
    assert strategy.grow is not None
    if not GROW_RULES.get(strategy.grow).dense_gradient:
        return dict.fromkeys(layers)
    return {
        name: None if layer.param.grad is None else layer.param.grad.detach().clone()
        for name, layer in layers.items()
    }


def update_masks(
    layers: dict[str, MaskedLayer],
    gradients: dict[str, Tensor | None],
    *,
    strategy: Strategy,
    config: SparseConfig,
    step: int,
    stop_step: int,
    generator_for: Callable[[torch.device], torch.Generator],
    optimizer: torch.optim.Optimizer | None,
) -> None:
    """One mask update of every layer: replace the scheduled fraction of its weights."""
    assert strategy.drop is not None and strategy.grow is not None
    drop = DROP_RULES.get(strategy.drop)
    grow = GROW_RULES.get(strategy.grow)
    fraction = ALPHA_SCHEDULES.get(config.alpha_schedule)(config.alpha, step, stop_step)
    for name, layer in layers.items():
        grad = gradients[name]
        if grow.dense_gradient and grad is None:
            continue  # a layer the loss did not reach cannot be ranked
        n = math.floor(fraction * layer.count)
        if n > 0:
            replace_weights(
                layer,
                n,
                grad,
                drop,
                grow.score,
                generator=generator_for(layer.param.device),
                regrow_dropped=config.regrow_dropped,
                optimizer=optimizer,
            )


def replace_weights(
    layer: MaskedLayer,
    n: int,
    grad: Tensor | None,
    drop: Callable,
    grow: Callable,
    *,
    generator: torch.Generator,
    regrow_dropped: bool,
    optimizer: torch.optim.Optimizer | None,
) -> None:
    """Drop the ``n`` lowest-scoring active weights, grow the ``n`` best other positions.

    Only the surviving weights are kept out of the grow ranking (RigL), so a
    just-dropped weight may win its place back and then keeps its value and optimizer
    state, as if never dropped; with ``regrow_dropped`` off, just-dropped positions
    rank below every other inactive one. Newly active weights start at zero with zero
    optimizer state; dropped ones go to zero with theirs.
    """
    weight = layer.param.detach()
    mask = layer.mask.view(-1)

    keep_score = torch.where(mask, drop(weight, grad, generator).reshape(-1), math.inf)
    dropped = torch.topk(keep_score, n, largest=False, sorted=False).indices
    survivors = mask.scatter(0, dropped, False)

    grow_score = grow(weight, grad, generator).reshape(-1)
    if not regrow_dropped:  # grow scores are >= 0, so -1 ranks below them
        grow_score = grow_score.masked_fill(mask, -1.0)
    grow_score = grow_score.masked_fill(survivors, -math.inf)
    grown = torch.topk(grow_score, n, sorted=False).indices
    new_mask = survivors.scatter(0, grown, True).view(weight.shape)

    changed = new_mask ^ layer.mask
    with torch.no_grad():
        layer.param.masked_fill_(changed, 0.0)
    reset_optimizer_state(optimizer, layer.param, changed)
    layer.set_mask(new_mask)


def reset_optimizer_state(
    optimizer: torch.optim.Optimizer | None, param: nn.Parameter, positions: Tensor
) -> None:
    """Zero every per-weight optimizer state tensor (momentum, Adam moments...) there."""
    if optimizer is None:
        return
    for value in optimizer.state.get(param, {}).values():
        if isinstance(value, Tensor) and value.shape == param.shape:
            value.masked_fill_(positions, 0)
