"""Static importance scores computed once at initialisation (pruning at init).

A score function gets the model (still dense), its maskable weights, a few batches
and the loss, and returns one score tensor per weight; each layer then keeps its
highest-scoring positions, at the same per-layer counts as every other strategy.
The loss is applied to raw logits and must take the log-softmax itself
(cross-entropy): the public REST code fed raw logits to ``nll_loss``, which
scores with the wrong objective.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from rest.registry import Registry

LossFn = Callable[[Tensor, Tensor], Tensor]
Batches = Iterable[tuple[Tensor, Tensor]]
ScoreFn = Callable[[nn.Module, dict[str, nn.Parameter], Batches, LossFn], dict[str, Tensor]]

STATIC_SCORES: Registry[ScoreFn] = Registry("static score")

SCORE_BATCHES = 4
"""Batches scored by default: SNIP used one batch, GraSP about ten samples per class;
a few batches steady the ranking without costing an epoch."""

GRASP_TEMPERATURE = 200.0
"""GraSP (Wang et al. 2020) divides the logits by 200 so the softmax is not saturated
at initialisation and the Hessian-gradient product is informative."""


def _on_device(batch: tuple[Tensor, Tensor], device: torch.device) -> tuple[Tensor, Tensor]:
    return batch[0].to(device), batch[1].to(device)


def _summed(per_batch: Iterable[tuple[Tensor | None, ...]], like: list[Tensor]) -> list[Tensor]:
    """Sum per-batch gradient tuples; a ``None`` (weight the loss did not reach) adds 0."""
    total = [torch.zeros_like(t) for t in like]
    for grads in per_batch:
        for acc, grad in zip(total, grads, strict=True):
            if grad is not None:
                acc += grad
    return total


@STATIC_SCORES.register("snip")
def snip(
    model: nn.Module, weights: dict[str, nn.Parameter], batches: Batches, loss_fn: LossFn
) -> dict[str, Tensor]:
    """SNIP (Lee et al. 2019): |w * dL/dw|, the loss change when a connection is cut."""
    params = list(weights.values())
    device = params[0].device
    gradient = _summed(
        (
            torch.autograd.grad(loss_fn(model(x), y), params, allow_unused=True)
            for x, y in (_on_device(batch, device) for batch in batches)
        ),
        params,
    )
    return {
        name: (w.detach() * g).abs() for (name, w), g in zip(weights.items(), gradient, strict=True)
    }


@STATIC_SCORES.register("grasp")
def grasp(
    model: nn.Module, weights: dict[str, nn.Parameter], batches: Batches, loss_fn: LossFn
) -> dict[str, Tensor]:
    """GraSP (Wang et al. 2020): w * Hg, the change of the gradient norm when w is cut.

    Cutting w changes the gradient norm by about ``-2 * w * Hg``; GraSP cuts where
    that change is largest (gradient flow kept or raised), so the keep-score is
    ``w * Hg``.
    """
    params = list(weights.values())
    device = params[0].device
    batches = [_on_device(batch, device) for batch in batches]

    def gradients(x: Tensor, y: Tensor, create_graph: bool) -> tuple[Tensor | None, ...]:
        loss = loss_fn(model(x) / GRASP_TEMPERATURE, y)
        return torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)

    gradient = _summed((gradients(x, y, False) for x, y in batches), params)

    def hessian_gradient(x: Tensor, y: Tensor) -> tuple[Tensor | None, ...]:
        pairs = zip(gradients(x, y, True), gradient, strict=True)
        flow = sum((g * v).sum() for g, v in pairs if g is not None)
        return torch.autograd.grad(flow, params, allow_unused=True)

    product = _summed((hessian_gradient(x, y) for x, y in batches), params)
    return {name: w.detach() * hg for (name, w), hg in zip(weights.items(), product, strict=True)}
