"""The run-directory lock: a second trainer is refused naming the holder, and a holder
that dies (however it dies) releases the lock. Real processes, real flock."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from rest.engine import fit
from rest.runs import LOCK_FILE, RunLock, RunLocked

from processes import hold_lock
from training_testing import make_splits, tiny_config


def test_a_second_trainer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    holder = hold_lock(run)
    try:
        with pytest.raises(RunLocked) as refused:
            fit(tiny_config("erm"), make_splits(), out=run, resume=True, show_progress=False)
        message = str(refused.value)
        assert "\n" not in message
        assert f"host {socket.gethostname()} pid {holder.pid} since " in message
        assert str(run) in message
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    run = tmp_path / "run"
    holder = hold_lock(run)
    assert RunLock(run).held()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert not RunLock(run).held()
    summary = fit(tiny_config("erm"), make_splits(), out=run, show_progress=False)
    assert summary["method"] == "erm"
    assert (run / "summary.json").is_file()
    assert not RunLock(run).held()  # released when training ends


def test_the_lock_is_held_while_training(tmp_path: Path, monkeypatch) -> None:
    """Checked from inside the training loop: a second lock on the same directory fails."""
    import rest.engine

    run = tmp_path / "run"
    seen: list[str] = []
    evaluate = rest.engine.evaluate

    def evaluate_and_probe(*args, **kwargs):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()} since"):
            RunLock(run).acquire()
        seen.append("refused")
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(rest.engine, "evaluate", evaluate_and_probe)
    fit(tiny_config("erm"), make_splits(), out=run, show_progress=False)
    assert seen  # the probe ran
