"""Sample weights: the published lambda_up table, the weights and the weighted loss."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rest.reweight.weights import (
    default_lambda_up,
    expected_upweighted_share,
    upweight,
    weighted_cross_entropy,
)


@pytest.mark.parametrize(
    ("share", "lambda_up"),
    [
        (0.0, 10.0),
        (0.005, 10.0),
        (0.0074999, 10.0),
        (0.0075, 30.0),  # each bound belongs to the next ratio
        (0.01, 30.0),
        (0.0149999, 30.0),
        (0.015, 50.0),
        (0.02, 50.0),
        (0.0349999, 50.0),
        (0.035, 80.0),
        (0.05, 80.0),
        (1.0, 80.0),
    ],
)
def test_default_lambda_up_at_every_bound_of_its_table(share, lambda_up):
    assert default_lambda_up(share) == lambda_up


def test_upweight_and_the_share_a_sampler_draws():
    upweighted = torch.tensor([True, False, False, True, False])
    assert upweight(upweighted, 7.0).tolist() == [7.0, 1.0, 1.0, 7.0, 1.0]
    assert expected_upweighted_share(upweighted, 7.0) == pytest.approx(14 / 17)
    assert expected_upweighted_share(upweighted, 1.0) == pytest.approx(2 / 5)


def test_weighted_cross_entropy_is_normalised_by_the_total_weight():
    logits = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    targets = torch.tensor([0, 0, 1])
    weights = torch.tensor([1.0, 10.0, 1.0])
    losses = F.cross_entropy(logits, targets, reduction="none")
    expected = (losses[0] + 10 * losses[1] + losses[2]) / 12
    assert weighted_cross_entropy(logits, targets, weights).item() == pytest.approx(expected.item())
