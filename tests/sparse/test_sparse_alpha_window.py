"""The drop-fraction decay spans the mask-update window: with ``stop_fraction < 1`` it
reaches its end at the stop step, not at the end of training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rest.sparse import ALPHA_SCHEDULES, SparseConfig, SparseTraining


def test_decay_ends_at_the_stop_step(monkeypatch):
    cosine = ALPHA_SCHEDULES.get("cosine")
    calls: list[tuple[int, int, float]] = []

    def recording(alpha: float, step: int, end: int) -> float:
        fraction = cosine(alpha, step, end)
        calls.append((step, end, fraction))
        return fraction

    monkeypatch.setitem(ALPHA_SCHEDULES._entries, "cosine", recording)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    config = SparseConfig(
        density=0.3, strategy="rigl", update_frequency=4, stop_fraction=0.5, alpha=0.5
    )
    sparse = SparseTraining(model, config, total_steps=40, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sparse.attach(optimizer)
    inputs, targets = torch.randn(8, 16), torch.randint(0, 4, (8,))
    for step in range(40):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), targets).backward()
        sparse.before_optimizer_step(step)
        optimizer.step()
        sparse.after_optimizer_step(step)

    # updates at steps 4, 8, 12, 16: the window ends at step 20 = 0.5 * 40
    assert [step for step, _, _ in calls] == [4, 8, 12, 16]
    assert all(end == 20 for _, end, _ in calls)
    last = calls[-1][2]
    assert last == pytest.approx(0.25 * (1 + math.cos(math.pi * 16 / 20)))  # 0.048
    assert last < 0.1 * config.alpha  # nearly settled before the mask freezes
