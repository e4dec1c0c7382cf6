"""When masks change and by how much: the automatic update frequency, the stop
fraction that freezes the mask, the alpha schedules and the replaced count."""

from __future__ import annotations

import pytest
from sparse_testing import batch, sparse_setup, train_step

from rest.sparse import ALPHA_SCHEDULES, SparseConfig, resolve_update_frequency


def test_automatic_update_frequency_follows_run_length():
    assert resolve_update_frequency(SparseConfig(), 3000) == 100
    assert resolve_update_frequency(SparseConfig(stop_fraction=0.5), 3000) == 50
    assert resolve_update_frequency(SparseConfig(target_updates=50), 2800) == 56
    assert resolve_update_frequency(SparseConfig(), 10) == 1
    assert resolve_update_frequency(SparseConfig(update_frequency=1000), 2800) == 1000
    _, sparse, _ = sparse_setup("mlp", total_steps=3000)
    stats = sparse.stats()
    assert stats["update_frequency"] == 100 and stats["planned_updates"] == 29


def test_stop_fraction_freezes_the_mask():
    model, sparse, optimizer = sparse_setup(
        "mlp", total_steps=20, strategy="set", target_updates=4, stop_fraction=0.5
    )
    assert sparse.update_frequency == 2
    updates = [step for step in range(20) if sparse.is_update_step(step)]
    assert updates == [2, 4, 6, 8]
    data = batch("mlp")
    for step in range(20):
        train_step(model, sparse, optimizer, data, step)
    assert sparse.updates_done == 4 == sparse.planned_updates


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("cosine", [0.5, 0.25, 0.0]),
        ("linear", [0.5, 0.25, 0.0]),
        ("constant", [0.5, 0.5, 0.5]),
    ],
)
def test_alpha_schedules(name, values):
    schedule = ALPHA_SCHEDULES.get(name)
    assert [schedule(0.5, step, 100) for step in (0, 50, 100)] == pytest.approx(values)
    if name == "cosine":
        assert schedule(0.5, 25, 100) == pytest.approx(0.25 * (1 + 2**-0.5))


def test_replaced_count_follows_the_cosine_schedule():
    # just-dropped weights kept out of the regrowth, so every replaced weight is a new one
    model, sparse, optimizer = sparse_setup(
        "mlp",
        total_steps=40,
        strategy="set",
        update_frequency=10,
        density=0.2,
        regrow_dropped=False,
    )
    data = batch("mlp")
    name = "features.1.weight"
    count = int(sparse.masks[name].sum())
    for step in range(40):
        before = sparse.masks[name].clone()
        train_step(model, sparse, optimizer, data, step)
        if step in (10, 20, 30):
            alpha = ALPHA_SCHEDULES.get("cosine")(0.5, step, 40)
            assert int((sparse.masks[name] & ~before).sum()) == int(alpha * count)
