"""Static importance scores computed once at initialisation (pruning at init).

A score function gets the model (still dense), its maskable weights, a few batches
and the training objective, and returns one score tensor per weight; each layer then
keeps its highest-scoring positions, at the same per-layer counts as every other
strategy. The objective is the run's own loss -- ``objective(forward, batch)``
computes the logits as ``forward(inputs)`` (GraSP passes a temperature-scaled
forward) and returns the loss the method trains with, e.g. the weighted
cross-entropy of ``--reweight-by loss`` -- so the mask is scored for the objective
actually minimised. :func:`on_pairs` builds one from a ``loss_fn(logits, targets)``
over ``(inputs, targets)`` batches; the loss must take the log-softmax itself
(cross-entropy): the public REST code fed raw logits to ``nll_loss``, which scores
with the wrong objective.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rest.registry import Registry

Forward = Callable[[Tensor], Tensor]
Objective = Callable[[Forward, Any], Tensor]
ScoreFn = Callable[[nn.Module, dict[str, nn.Parameter], list[Any], Objective], dict[str, Tensor]]


@dataclass(frozen=True)
class StaticScore:
    score: ScoreFn
    forward_passes: int
    """Dense forward passes over each scored sample."""
    backward_passes: int
    """Dense backward passes over each scored sample (a Hessian-vector product counts one)."""


STATIC_SCORES: Registry[StaticScore] = Registry("static score")

SCORE_BATCHES = 4
"""Batches scored by default: SNIP used one batch, GraSP about ten samples per class;
a few batches steady the ranking without costing an epoch."""

GRASP_TEMPERATURE = 200.0
"""GraSP (Wang et al. 2020) divides the logits by 200 so the softmax is not saturated
at initialisation and the Hessian-gradient product is informative."""


def on_pairs(loss_fn: Callable[[Tensor, Tensor], Tensor], device: torch.device) -> Objective:
    """The objective of ``(inputs, targets)`` batches under ``loss_fn(logits, targets)``."""

    def objective(forward: Forward, batch: tuple[Tensor, Tensor]) -> Tensor:
        inputs, targets = batch
        return loss_fn(forward(inputs.to(device)), targets.to(device))

    return objective


def _summed(per_batch: Iterable[tuple[Tensor | None, ...]], like: list[Tensor]) -> list[Tensor]:
    """Sum per-batch gradient tuples; a ``None`` (weight the loss did not reach) adds 0."""
    total = [torch.zeros_like(t) for t in like]
    for grads in per_batch:
        for acc, grad in zip(total, grads, strict=True):
            if grad is not None:
                acc += grad
    return total


def snip(
    model: nn.Module, weights: dict[str, nn.Parameter], batches: list[Any], objective: Objective
) -> dict[str, Tensor]:
    """SNIP (Lee et al. 2019): |w * dL/dw|, the loss change when a connection is cut."""
    params = list(weights.values())
    gradient = _summed(
        (torch.autograd.grad(objective(model, b), params, allow_unused=True) for b in batches),
        params,
    )
    return {
        name: (w.detach() * g).abs() for (name, w), g in zip(weights.items(), gradient, strict=True)
    }


def grasp(
    model: nn.Module, weights: dict[str, nn.Parameter], batches: list[Any], objective: Objective
) -> dict[str, Tensor]:
    """GraSP (Wang et al. 2020): w * Hg, the change of the gradient norm when w is cut.

    Cutting w changes the gradient norm by about ``-2 * w * Hg``; GraSP cuts where
    that change is largest (gradient flow kept or raised), so the keep-score is
    ``w * Hg``.
    """
    params = list(weights.values())

    def tempered(inputs: Tensor) -> Tensor:
        return model(inputs) / GRASP_TEMPERATURE

    def gradients(batch: Any, create_graph: bool) -> tuple[Tensor | None, ...]:
        loss = objective(tempered, batch)
        return torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)

    gradient = _summed((gradients(b, False) for b in batches), params)

    def hessian_gradient(batch: Any) -> tuple[Tensor | None, ...]:
        pairs = zip(gradients(batch, True), gradient, strict=True)
        flow = sum((g * v).sum() for g, v in pairs if g is not None)
        return torch.autograd.grad(flow, params, allow_unused=True)

    product = _summed((hessian_gradient(b) for b in batches), params)
    return {name: w.detach() * hg for (name, w), hg in zip(weights.items(), product, strict=True)}


STATIC_SCORES.register("snip")(StaticScore(snip, forward_passes=1, backward_passes=1))
# GraSP: a gradient pass, then per batch a forward with a graph, its backward and the
# Hessian-gradient product through it
STATIC_SCORES.register("grasp")(StaticScore(grasp, forward_passes=2, backward_passes=3))
