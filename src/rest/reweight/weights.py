"""Sample weights for upweighting the bias-conflicting set.

Every upweighted sample gets weight ``lambda_up``, every other sample weight 1.
The weights reach training either through a weighted sampler with replacement
(epoch length = dataset size, plain mean loss -- the published recipe) or as
per-sample loss weights under uniform sampling.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# (upper bound of the conflicting share, default lambda_up): the published intent
# is 10/30/50/80 for conflict ratios of 0.5/1/2/5%.
DEFAULT_LAMBDA_BY_SHARE = ((0.0075, 10.0), (0.015, 30.0), (0.035, 50.0), (float("inf"), 80.0))


def default_lambda_up(conflicting_share: float) -> float:
    """The published upweight for a conflicting share (0.01 = 1%)."""
    for bound, value in DEFAULT_LAMBDA_BY_SHARE:
        if conflicting_share < bound:
            return value
    raise AssertionError("unreachable: the last bound is infinite")


def upweight(upweighted: torch.Tensor, lambda_up: float) -> torch.Tensor:
    """Per-sample weights: ``lambda_up`` where ``upweighted`` is True, else 1."""
    weights = torch.ones(upweighted.shape[0], dtype=torch.float64)
    weights[upweighted.cpu()] = lambda_up
    return weights


def expected_upweighted_share(upweighted: torch.Tensor, lambda_up: float) -> float:
    """Share of upweighted samples a weighted sampler draws in expectation."""
    k = float(upweighted.sum())
    n = upweighted.numel()
    return k * lambda_up / (k * lambda_up + (n - k))


def weighted_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy weighted per sample and normalised by the batch's total weight,
    so the step size does not grow with ``lambda_up``."""
    losses = F.cross_entropy(logits, targets, reduction="none")
    weights = weights.to(losses.dtype)
    return (losses * weights).sum() / weights.sum()
