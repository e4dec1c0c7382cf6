"""REST end to end: what the real training loop trains on is what the method promises.

Each test runs :func:`rest.engine.fit` on tiny generated data and captures, by
wrapping the method's loss, the batches, losses and weights the loop really sees.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.nn import functional as F

from rest.engine import fit
from rest.methods.rest import REST
from rest.sparse.grow import GROW_RULES, GrowRule

from training_testing import tiny_config


def _capture_losses(monkeypatch) -> list[dict]:
    """Every call of REST.loss during training: the batch, the logits and the loss."""
    calls: list[dict] = []
    original = REST.loss

    def capturing(self, model, batch):
        loss, logits = original(self, model, batch)
        calls.append({"batch": batch, "logits": logits.detach(), "loss": loss.detach()})
        return loss, logits

    monkeypatch.setattr(REST, "loss", capturing)
    return calls


def test_sampled_batches_hold_the_promised_conflicting_share(tiny_splits, monkeypatch):
    calls = _capture_losses(monkeypatch)
    config = tiny_config("rest", sparse={"density": 0.2}, optim={"epochs": 3})
    summary = fit(config, tiny_splits, show_progress=False)

    indices = torch.cat([call["batch"].indices for call in calls])
    assert len(indices) == 3 * len(tiny_splits.train)  # an epoch draws len(train) samples
    share = tiny_splits.train.conflicting[indices].float().mean().item()
    expected = summary["reweight"]["expected_sampled_share"]
    # 16 of 320 conflicting at the default lambda_up 80 (5% share): 1280 / 1584
    assert expected == pytest.approx(1280 / 1584)
    sigma = math.sqrt(expected * (1 - expected) / len(indices))
    assert abs(share - expected) < 4 * sigma


def test_loss_reweighting_backpropagates_the_weighted_cross_entropy(tiny_splits, monkeypatch):
    calls = _capture_losses(monkeypatch)
    lambda_up = 20.0
    config = tiny_config(
        "rest",
        sparse={"density": 0.2},
        reweight={"reweight_by": "loss", "lambda_up": lambda_up},
    )
    fit(config, tiny_splits, show_progress=False)

    conflicting = tiny_splits.train.conflicting
    steps_per_epoch = math.ceil(len(tiny_splits.train) / 64)
    assert len(calls) == 2 * steps_per_epoch
    for epoch in range(2):  # loss weights come with a plain shuffle: each epoch a permutation
        epoch_calls = calls[epoch * steps_per_epoch : (epoch + 1) * steps_per_epoch]
        indices = torch.cat([call["batch"].indices for call in epoch_calls])
        assert torch.equal(indices.sort().values, torch.arange(len(tiny_splits.train)))
    upweighted_batches = 0
    for call in calls:
        batch = call["batch"]
        weights = torch.where(conflicting[batch.indices], lambda_up, 1.0)
        losses = F.cross_entropy(call["logits"], batch.targets, reduction="none")
        expected = (weights * losses).sum() / weights.sum()
        assert call["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
        upweighted_batches += bool(conflicting[batch.indices].any())
    assert upweighted_batches >= 3  # the weights mattered in most batches


def test_rigl_grows_from_the_gradient_of_the_reweighted_loss(tiny_splits, monkeypatch):
    """At every mask update, the gradient the grow rule ranks is the gradient of the
    weighted loss of that step's batch at the weights the loss was computed with
    (recomputed here from a snapshot, so this holds whether the mask update runs
    before or after the optimizer step)."""
    lambda_up = 20.0
    conflicting = tiny_splits.train.conflicting
    snapshot: dict = {}
    original_loss = REST.loss

    def snapshotting(self, model, batch):
        snapshot.update(model=copy.deepcopy(model), batch=batch)
        return original_loss(self, model, batch)

    monkeypatch.setattr(REST, "loss", snapshotting)

    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    rule = GROW_RULES.get("gradient")

    def recording(weight, grad, generator):
        model, batch = snapshot["model"], snapshot["batch"]
        model.zero_grad(set_to_none=True)
        logits = model(batch.images)
        weights = torch.where(conflicting[batch.indices], lambda_up, 1.0)
        losses = F.cross_entropy(logits, batch.targets, reduction="none")
        ((weights * losses).sum() / weights.sum()).backward()
        # the tiny CNN's weights all differ in shape, so the shape names the layer
        (match,) = [p for p in model.parameters() if p.shape == weight.shape]
        captured.append((grad.detach().clone(), match.grad.detach().clone()))
        return rule.score(weight, grad, generator)

    monkeypatch.setitem(GROW_RULES._entries, "gradient", GrowRule(recording, True))
    config = tiny_config(
        "rest",
        sparse={"density": 0.2, "strategy": "rigl"},
        reweight={"reweight_by": "loss", "lambda_up": lambda_up},
    )
    summary = fit(config, tiny_splits, show_progress=False)

    assert summary["sparse"]["updates_done"] >= 1
    assert len(captured) >= summary["sparse"]["updates_done"]
    for seen, direct in captured:
        assert torch.allclose(seen, direct, rtol=1e-4, atol=1e-6)
