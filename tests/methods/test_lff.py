"""LfF (Nam et al., 2020) against a hand computation: the per-sample moving averages,
their per-class max normalisation, the relative-difficulty weight and the loss."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from rest.loader import Batch
from rest.methods.lff import LossAverage
from rest.resolve import resolve
from rest.reweight.gce import generalized_cross_entropy

from methods_testing import FixedLogits, build_method
from training_testing import tiny_config


def test_moving_average_starts_at_the_first_loss_then_decays():
    average = LossAverage(torch.tensor([0, 0, 1, 1]), num_classes=2, decay=0.7)
    average.update(torch.tensor([0, 2]), torch.tensor([2.0, 4.0]))
    assert average.values.tolist() == pytest.approx([2.0, 0.0, 4.0, 0.0])
    average.update(torch.tensor([0, 1]), torch.tensor([1.0, 3.0]))
    # sample 0 seen before: 0.7 * 2 + 0.3 * 1; sample 1 first seen: its loss
    assert average.values.tolist() == pytest.approx([1.7, 3.0, 4.0, 0.0])


def test_normalisation_divides_by_the_maximum_of_the_samples_class():
    average = LossAverage(torch.tensor([0, 0, 1, 1]), num_classes=2, decay=0.7)
    average.update(torch.arange(4), torch.tensor([1.0, 4.0, 0.5, 0.25]))
    # class 0 max 4, class 1 max 0.5 -- over every sample of the class, not the batch
    assert average.normalised(torch.tensor([0, 3])).tolist() == pytest.approx([0.25, 0.5])


def test_relative_difficulty_weighs_by_the_biased_models_share(tiny_splits):
    method = build_method(tiny_config("lff"), tiny_splits)
    targets = tiny_splits.train.targets
    n = len(targets)
    biased = torch.rand(n, generator=torch.Generator().manual_seed(0)) + 0.1
    main = torch.rand(n, generator=torch.Generator().manual_seed(1)) + 0.1
    method.biased_loss.update(torch.arange(n), biased)
    method.main_loss.update(torch.arange(n), main)
    indices = torch.tensor([0, 1, 5, 10])
    b = torch.stack([biased[i] / biased[targets == targets[i]].max() for i in indices])
    m = torch.stack([main[i] / main[targets == targets[i]].max() for i in indices])
    assert method.relative_difficulty(indices).tolist() == pytest.approx((b / (b + m)).tolist())


def test_loss_step_matches_the_published_update(tiny_splits):
    method = build_method(tiny_config("lff", options={"lff_ema": 0.7}), tiny_splits)
    train = tiny_splits.train
    indices = torch.tensor([0, 1, 2, 3])
    batch = Batch(
        images=train.images[indices].float() / 255,
        targets=train.targets[indices],
        biases=train.biases[indices],
        groups=train.group_ids[indices],
        indices=indices,
    )
    # a loss history for the whole split, as after an earlier epoch
    generator = torch.Generator().manual_seed(0)
    history_b, history_m = torch.rand(len(train), generator=generator), torch.rand(len(train))
    method.biased_loss.update(torch.arange(len(train)), history_b)
    method.main_loss.update(torch.arange(len(train)), history_m)

    main_logits = torch.tensor(
        [[2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.5]]
    )
    biased_copy = copy.deepcopy(method.biased_model).train()
    biased_logits = biased_copy(batch.images)
    generalized_cross_entropy(biased_logits, batch.targets, 0.7).backward()
    biased_logits = biased_logits.detach()

    loss, _ = method.loss(FixedLogits(main_logits), batch)

    targets = batch.targets
    ce_b = F.cross_entropy(biased_logits, targets, reduction="none")
    ce_m = F.cross_entropy(main_logits, targets, reduction="none")
    ema_b, ema_m = history_b.clone(), history_m.clone()
    ema_b[indices] = 0.7 * history_b[indices] + 0.3 * ce_b
    ema_m[indices] = 0.7 * history_m[indices] + 0.3 * ce_m
    norm_b = torch.stack(
        [ema_b[i] / ema_b[train.targets == train.targets[i]].max() for i in indices]
    )
    norm_m = torch.stack(
        [ema_m[i] / ema_m[train.targets == train.targets[i]].max() for i in indices]
    )
    weights = norm_b / (norm_b + norm_m)
    assert loss.item() == pytest.approx((ce_m * weights).mean().item(), rel=1e-5)
    # the biased model stepped on the gradient of its own GCE loss, and only that
    pairs = zip(method.biased_model.parameters(), biased_copy.parameters(), strict=True)
    for stepped, direct in pairs:
        assert torch.allclose(stepped.grad, direct.grad, atol=1e-6)
        assert not torch.equal(stepped.detach(), direct.detach())


def test_lff_defaults_to_its_published_optimizer(tiny_splits):
    base = {"epochs": 1, "batch_size": 64, "scheduler": "none"}
    lff = resolve(tiny_config("lff", optim={**base, "lr": None}), tiny_splits)
    assert (lff.optim.optimizer, lff.optim.lr) == ("adam", 1e-3)
    assert (lff.options.lff_ema, lff.reweight.gce_q) == (0.7, 0.7)
    erm = resolve(tiny_config("erm", optim={**base, "lr": None}), tiny_splits)
    assert (erm.optim.optimizer, erm.optim.lr) == ("sgd", 0.01)  # the cnn's published lr
    # an explicit optimizer keeps the model's lr unless --lr is given
    sgd = resolve(tiny_config("lff", optim={**base, "lr": None, "optimizer": "sgd"}), tiny_splits)
    assert (sgd.optim.optimizer, sgd.optim.lr) == ("sgd", 0.01)
    method = build_method(tiny_config("lff", optim={**base, "lr": None}), tiny_splits)
    assert isinstance(method.biased_optimizer, torch.optim.Adam)
    assert method.biased_optimizer.param_groups[0]["lr"] == 1e-3
