"""Mask updates: which weights RigL and SET drop and grow, how regrowth ranks
just-dropped weights, seeding, exploration, and static masks that never move."""

from __future__ import annotations

import itertools

import pytest
import torch
from sparse_testing import batch, sparse_setup, train_step, update_now
from torch import nn

from rest.sparse import SparseConfig, SparseTraining


def single_layer(strategy: str, density: float = 0.5, seed: int = 0, **config):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 10, bias=False))
    config = SparseConfig(
        density=density,
        distribution="uniform",
        strategy=strategy,
        alpha=0.4,
        alpha_schedule="constant",
        update_frequency=1,
        **config,
    )
    return model, SparseTraining(model, config, total_steps=10, seed=seed)


def test_rigl_drops_smallest_magnitudes_and_grows_largest_gradients():
    model, sparse = single_layer("rigl")
    weight = model[0].weight
    old = sparse.masks["0.weight"].clone()
    with torch.no_grad():
        weight.copy_(torch.randn(10, 10) * old)
    weight.grad = torch.randn(10, 10)
    n = int(0.4 * 50)
    magnitude = weight.detach().abs().masked_fill(~old, float("inf")).view(-1)
    dropped = torch.topk(magnitude, n, largest=False).indices
    survivors = old.view(-1).scatter(0, dropped, False)
    gradient = weight.grad.abs().view(-1).masked_fill(survivors, -1)
    expected = survivors.scatter(0, torch.topk(gradient, n).indices, True)
    update_now(sparse, 1)
    assert torch.equal(sparse.masks["0.weight"].view(-1), expected)


def dropped_with_largest_gradients(**config):
    """A RigL update where the weights about to be dropped (the smallest active ones)
    carry by far the largest gradients; returns (old mask, the dropped set, new mask)."""
    model, sparse = single_layer("rigl", density=0.3, **config)
    weight = model[0].weight
    old = sparse.masks["0.weight"].clone()
    with torch.no_grad():
        weight.copy_((torch.rand(10, 10) + 1.0) * old)
    n = int(0.4 * 30)
    smallest = torch.topk(weight.detach().masked_fill(~old, 9.0).view(-1), n, largest=False)
    dropped = torch.zeros(100, dtype=torch.bool).scatter(0, smallest.indices, True)
    weight.grad = torch.rand(10, 10) + 100.0 * dropped.view(10, 10)
    update_now(sparse, 1)
    return old, dropped.view(10, 10), sparse.masks["0.weight"]


def test_published_ranking_regrows_a_just_dropped_weight_with_a_large_gradient():
    old, dropped, new = dropped_with_largest_gradients()
    assert int(dropped.sum()) == 12
    assert torch.equal(new, old)  # every dropped weight won its place straight back


def test_avoid_dropped_ranking_keeps_just_dropped_weights_out_when_avoidable():
    old, dropped, new = dropped_with_largest_gradients(regrow_dropped=False)
    assert not (new & dropped).any()
    assert int((new & ~old).sum()) == int(dropped.sum()) == 12


@pytest.mark.parametrize("strategy", ["rigl", "set"])
def test_same_seed_same_masks_other_seed_other_masks(strategy):
    def run(seed: int) -> dict[str, torch.Tensor]:
        model, sparse, optimizer = sparse_setup(
            "cnn", total_steps=9, seed=seed, strategy=strategy, update_frequency=2
        )
        data = batch("cnn")
        for step in range(9):
            train_step(model, sparse, optimizer, data, step)
        return {name: mask.clone() for name, mask in sparse.masks.items()}

    first, again, other = run(1), run(1), run(2)
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert not all(torch.equal(first[n], other[n]) for n in first)


def test_exploration_rate_grows_with_updates():
    model, sparse, optimizer = sparse_setup(
        "mlp", total_steps=20, strategy="set", update_frequency=2, density=0.05
    )
    data = batch("mlp")
    rates = [sparse.exploration_rate()]
    assert rates[0] == pytest.approx(sparse.stats()["density"])
    for step in range(20):
        train_step(model, sparse, optimizer, data, step)
        rates.append(sparse.exploration_rate())
    assert all(b >= a for a, b in itertools.pairwise(rates))
    assert rates[-1] > 2 * rates[0]
    assert sparse.updates_done == 9


def test_static_masks_never_move():
    model, sparse, optimizer = sparse_setup("cnn", total_steps=8, strategy="static")
    initial = {name: mask.clone() for name, mask in sparse.masks.items()}
    data = batch("cnn")
    for step in range(8):
        train_step(model, sparse, optimizer, data, step)
    assert all(torch.equal(initial[n], sparse.masks[n]) for n in initial)
    stats = sparse.stats()
    assert stats["updates_done"] == 0 and stats["planned_updates"] == 0
    assert stats["exploration_rate"] == stats["density"]
