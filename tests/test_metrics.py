from __future__ import annotations

import math

import pytest
import torch

from rest.data.dataset import BiasedDataset
from rest.metrics import metrics_from_predictions, selection_metric


def _dataset(targets, biases) -> BiasedDataset:
    n = len(targets)
    return BiasedDataset(
        images=torch.zeros(n, 1, 2, 2, dtype=torch.uint8),
        targets=torch.tensor(targets),
        biases=torch.tensor(biases),
        num_classes=2,
        num_biases=2,
    )


def test_group_metrics_match_hand_computation():
    # groups: (0,0) x3, (0,1) x1, (1,1) x2, (1,0) x2
    data = _dataset([0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 0, 0])
    predictions = torch.tensor([0, 0, 1, 1, 1, 0, 1, 0])
    losses = torch.arange(8, dtype=torch.float)
    m = metrics_from_predictions(data, predictions, losses)
    # per group: (0,0) 2/3, (0,1) 0/1, (1,1) 1/2, (1,0) 1/2
    assert m["groups"] == pytest.approx({"0,0": 2 / 3, "0,1": 0.0, "1,0": 0.5, "1,1": 0.5})
    assert m["accuracy"] == pytest.approx(4 / 8)
    assert m["unbiased"] == pytest.approx((2 / 3 + 0 + 0.5 + 0.5) / 4)
    assert m["worst_group"] == 0.0
    # aligned (b == y): samples 0,1,2,4,5 -> correct 0,1,4 = 3/5
    assert m["aligned"] == pytest.approx(3 / 5)
    # conflicting: samples 3,6,7 -> correct 6 = 1/3
    assert m["conflicting"] == pytest.approx(1 / 3)
    assert m["loss"] == pytest.approx(3.5)
    assert m["count"] == 8


def test_unbiased_equals_accuracy_on_balanced_groups():
    data = _dataset([0, 0, 1, 1] * 3, [0, 1, 0, 1] * 3)
    predictions = torch.tensor([0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1])
    m = metrics_from_predictions(data, predictions, torch.zeros(12))
    assert m["unbiased"] == pytest.approx(m["accuracy"])


def test_without_bias_labels_only_accuracy_and_loss():
    data = _dataset([0, 1, 1], [-1, -1, -1])
    m = metrics_from_predictions(data, torch.tensor([0, 1, 0]), torch.ones(3))
    assert set(m) == {"count", "accuracy", "loss"}
    assert math.isclose(m["accuracy"], 2 / 3)
    assert selection_metric(data) == "accuracy"
    assert selection_metric(None) == "accuracy"


def test_selection_is_worst_group_with_bias_labels():
    assert selection_metric(_dataset([0, 1], [0, 1])) == "worst_group"


def test_a_group_empty_in_one_split_is_left_out_of_that_splits_metrics():
    # valid holds all four groups; test has no (1, 0) sample
    valid = _dataset([0, 0, 1, 1, 1], [0, 1, 0, 1, 1])
    test = _dataset([0, 0, 0, 1, 1], [0, 0, 1, 1, 1])
    v = metrics_from_predictions(valid, torch.tensor([0, 1, 0, 1, 0]), torch.zeros(5))
    t = metrics_from_predictions(test, torch.tensor([0, 1, 0, 1, 1]), torch.zeros(5))

    assert v["groups"] == {"0,0": 1.0, "0,1": 0.0, "1,0": 0.0, "1,1": 0.5}
    assert v["unbiased"] == pytest.approx((1 + 0 + 0 + 0.5) / 4)
    assert v["worst_group"] == 0.0
    # test: (0,0) 1/2, (0,1) 1/1, (1,1) 2/2; the empty (1,0) is neither 0 nor averaged in
    assert t["groups"] == {"0,0": 0.5, "0,1": 1.0, "1,1": 1.0}
    assert t["unbiased"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert t["worst_group"] == 0.5
    assert t["aligned"] == pytest.approx(3 / 4)  # samples 0, 1, 3, 4
    assert t["conflicting"] == 1.0  # sample 2
    assert t["accuracy"] == pytest.approx(4 / 5)


def test_a_split_without_conflicting_samples_has_no_conflicting_accuracy():
    aligned_only = _dataset([0, 1, 1], [0, 1, 1])
    m = metrics_from_predictions(aligned_only, torch.tensor([0, 0, 1]), torch.zeros(3))
    assert m["conflicting"] is None
    assert m["aligned"] == pytest.approx(2 / 3)
    assert m["unbiased"] == pytest.approx((1 + 0.5) / 2)
