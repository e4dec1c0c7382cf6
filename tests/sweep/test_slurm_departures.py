"""When the Slurm launcher gives up on a task that has no result: only after it has been
seen ended (or not at all) for the whole grace period in a row. Pure bookkeeping, so it
runs without Slurm; tests/sweep/test_slurm.py drives the launcher on a real cluster."""

from __future__ import annotations

from rest.launch.slurm import Departures


def test_a_task_seen_queued_again_starts_its_grace_over() -> None:
    departures = Departures(grace_seconds=5)
    # Missing from one poll while Slurm requeues it, then pending again...
    assert not departures.departed("run", None, now=0.0)
    assert not departures.departed("run", "PENDING", now=1.0)
    # ...so a later gap is timed from its own start, not from the first one.
    assert not departures.departed("run", None, now=10.0)
    assert not departures.departed("run", "COMPLETED", now=14.0)
    assert departures.departed("run", "COMPLETED", now=15.0)


def test_transient_states_keep_a_task_and_ended_ones_do_not() -> None:
    departures = Departures(grace_seconds=5)
    for state in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "SUSPENDED"):
        assert not departures.departed("run", state, now=0.0)
        assert not departures.departed("run", state, now=100.0), state
    for state in ("CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "FAILED"):
        tracked = Departures(grace_seconds=5)
        assert not tracked.departed(state, state, now=0.0)  # its result may be on its way
        assert tracked.departed(state, state, now=5.0), state


def test_each_task_has_its_own_grace() -> None:
    departures = Departures(grace_seconds=5)
    assert not departures.departed("a", None, now=0.0)
    assert not departures.departed("b", None, now=4.0)
    assert departures.departed("a", None, now=5.0)
    assert not departures.departed("b", None, now=5.0)
    assert departures.departed("b", None, now=9.0)
