"""Online GroupDRO (Sagawa et al., 2020) against a hand computation on hand-made batches."""

from __future__ import annotations

import math

import pytest
import torch

from rest.loader import Batch

from methods_testing import FixedLogits, build_method
from training_testing import NUM_CLASSES, tiny_config


def _batch(targets: list[int], biases: list[int]) -> Batch:
    targets_t, biases_t = torch.tensor(targets), torch.tensor(biases)
    return Batch(
        images=torch.zeros(len(targets), 3, 12, 12),
        targets=targets_t,
        biases=biases_t,
        groups=targets_t * NUM_CLASSES + biases_t,
        indices=torch.arange(len(targets)),
    )


def _ce(logits: list[float], target: int) -> float:
    return -logits[target] + math.log(sum(math.exp(v) for v in logits))


def test_q_update_and_loss_follow_the_online_algorithm(tiny_splits):
    eta = 0.5
    method = build_method(tiny_config("groupdro", options={"groupdro_eta": eta}), tiny_splits)
    # q starts uniform over the 12 (y, b) groups present in the tiny training split
    present = [4 * y + b for y, b in tiny_splits.train.group_counts()]
    start = [1 / 12 if g in present else 0.0 for g in range(16)]
    assert len(present) == 12 and method.group_weights.tolist() == pytest.approx(start)

    # groups: (0,0) twice, (1,2) once, (3,3) once
    batch = _batch([0, 0, 1, 3], [0, 0, 2, 3])
    rows = [[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    loss, _ = method.loss(FixedLogits(torch.tensor(rows)), batch)

    group_loss = {
        0: (_ce(rows[0], 0) + _ce(rows[1], 0)) / 2,  # group id of (0, 0)
        1 * 4 + 2: _ce(rows[2], 1),
        3 * 4 + 3: _ce(rows[3], 3),
    }
    q = [start[g] * math.exp(eta * group_loss.get(g, 0.0)) for g in range(16)]
    q = [v / sum(q) for v in q]
    assert method.group_weights.tolist() == pytest.approx(q)
    # the loss weighs the group losses by the *updated* q
    assert loss.item() == pytest.approx(sum(q[g] * value for g, value in group_loss.items()))
    # the worst group (the misclassified (1, 2) sample) gained the most weight
    assert int(method.group_weights.argmax()) == 1 * 4 + 2

    # a second batch keeps multiplying into the same q
    second = _batch([1], [2])
    row = [0.0, 0.5, 0.0, 0.0]
    loss, _ = method.loss(FixedLogits(torch.tensor([row])), second)
    q[6] *= math.exp(eta * _ce(row, 1))
    q = [v / sum(q) for v in q]
    assert method.group_weights.tolist() == pytest.approx(q)
    assert loss.item() == pytest.approx(q[6] * _ce(row, 1))


def test_q_of_a_group_absent_from_training_stays_zero(tiny_splits):
    assert (0, 1) not in tiny_splits.train.group_counts()
    method = build_method(tiny_config("groupdro", options={"groupdro_eta": 1.0}), tiny_splits)
    assert method.group_weights[1] == 0
    batch = _batch([0, 0], [1, 0])  # a (0, 1) sample cannot raise a q that starts at 0
    method.loss(FixedLogits(torch.zeros(2, 4)), batch)
    assert method.group_weights[1] == 0
    assert method.group_weights.sum().item() == pytest.approx(1.0)
