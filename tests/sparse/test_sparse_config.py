"""SparseConfig validation and user errors: one-line RestError messages."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from rest.errors import RestError
from rest.sparse import SparseConfig, SparseTraining


def one_line_error(**fields) -> str:
    with pytest.raises(RestError) as caught:
        SparseConfig(**fields)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("density", [0, 0.0, -0.1, 1.5, float("nan"), "0.1", True])
def test_density_outside_unit_interval(density):
    message = one_line_error(density=density)
    assert "density" in message and "(0, 1]" in message


def test_unknown_strategy_lists_valid_names():
    message = one_line_error(strategy="lottery")
    assert "'lottery'" in message
    assert "grasp, rigl, set, snip, static" in message


def test_unknown_distribution_lists_valid_names():
    message = one_line_error(distribution="erdos")
    assert "er, erk, uniform" in message


def test_unknown_schedule_lists_valid_names():
    assert "constant, cosine, linear" in one_line_error(alpha_schedule="step")


@pytest.mark.parametrize(
    "fields",
    [
        {"update_frequency": 0},
        {"update_frequency": 1.5},
        {"target_updates": 0},
        {"alpha": 0},
        {"alpha": 1.0},
        {"stop_fraction": 0},
        {"stop_fraction": 1.2},
        {"dense_first_layer": "yes"},
    ],
)
def test_out_of_range_fields(fields):
    (name,) = fields
    assert name in one_line_error(**fields)


def test_defaults_and_help_metadata():
    config = SparseConfig()
    assert (config.density, config.distribution, config.strategy) == (0.1, "erk", "rigl")
    assert config.update_frequency is None and config.target_updates == 30
    assert (config.alpha, config.alpha_schedule, config.stop_fraction) == (0.5, "cosine", 1.0)
    for field in dataclasses.fields(SparseConfig):
        assert field.metadata.get("help"), field.name
    assert SparseConfig(update_frequency=1000).update_frequency == 1000


def test_model_without_maskable_layers():
    model = nn.Sequential(nn.BatchNorm1d(4), nn.ReLU())
    with pytest.raises(RestError, match="no conv or linear layer") as caught:
        SparseTraining(model, SparseConfig(), total_steps=10, seed=0)
    assert "\n" not in str(caught.value)


def test_dense_layers_that_exceed_the_budget():
    model = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 2))
    config = SparseConfig(density=0.1, dense_first_layer=True)
    with pytest.raises(RestError, match="too low to keep the first/last layer dense"):
        SparseTraining(model, config, total_steps=10, seed=0)


def test_scored_strategy_needs_data_before_training():
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2))
    sparse = SparseTraining(model, SparseConfig(strategy="snip", density=0.5), 10, seed=0)
    model(torch.randn(2, 8)).sum().backward()
    with pytest.raises(RestError, match="initialize_from_data"):
        sparse.before_optimizer_step(0)
    with pytest.raises(RestError, match="at least one batch"):
        sparse.initialize_from_data([])
