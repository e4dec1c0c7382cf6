"""Generalized cross-entropy (Zhang & Sabuncu, 2018), the loss of LfF's biased model."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rest.reweight.gce import generalized_cross_entropy


def test_gce_value_and_gradient_follow_the_formula():
    logits = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 0.3], [-2.0, 1.0, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 0, 0])
    q = 0.7
    loss = generalized_cross_entropy(logits, targets, q)
    p = logits.detach().softmax(1)
    p_y = p[torch.arange(3), targets]
    assert loss.item() == pytest.approx(((1 - p_y**q) / q).mean().item())
    loss.backward()
    # d/dz (1 - p_y^q) / q = p_y^q * (softmax - onehot): the cross-entropy gradient
    # scaled by p_y^q, so easy samples pull hardest
    expected = p_y[:, None] ** q * (p - F.one_hot(targets, 3)) / 3
    assert torch.allclose(logits.grad, expected, atol=1e-6)
