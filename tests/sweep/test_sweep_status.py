"""A sweep beside another process: a run someone else trains is left to them (``busy``,
not failed, not trained twice), and ``rest sweep --status`` tells every state apart
from what is on disk."""

from __future__ import annotations

import json
from pathlib import Path

from rest.cli import main
from rest.config import TrainConfig
from rest.runs import write_json
from rest.sweep import FAILURES_FILE, plan_sweep, run_sweep
from rest.sweep_status import SweepQueue, sweep_status

from processes import hold_lock, python

BASE = TrainConfig.from_dict(
    {
        "data": {"dataset": "cmnist", "image_size": 8},
        "model": {"model": "mlp", "width": 8},
        "optim": {"epochs": 1, "batch_size": 512},
        "run": {"device": "cpu"},
    }
)

FLAGS = [
    "--dataset",
    "cmnist",
    "--image-size",
    "8",
    "--model",
    "mlp",
    "--width",
    "8",
    "--epochs",
    "1",
    "--batch-size",
    "512",
]


def test_a_run_locked_by_another_process_is_left_to_it(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    locked, _free = plan_sweep(BASE, ["erm"], seeds=[0, 1], out=out)
    holder = hold_lock(locked.path)
    try:
        results = run_sweep(BASE, ["erm"], seeds=[0, 1], out=out, workers=0, progress=False)
        assert [r.status for r in results] == ["busy", "trained"]
        assert f"pid {holder.pid}" in (results[0].error or "")
        assert not (locked.path / "config.json").exists()  # not a single file written
        assert not (out / FAILURES_FILE).exists()  # being trained elsewhere is no failure
        argv = ["sweep", "--method", "erm", "--seeds", "0", "1", "--out", str(out)]
        assert main([*argv, "--no-progress", "--workers", "0", *FLAGS]) == 1
        printed = capsys.readouterr().out
        assert "0 trained, 1 already finished, 0 failed, 1 busy in another process" in printed
        assert f"busy: run directory {locked.path} is being trained by host " in printed
    finally:
        holder.kill()
        holder.wait()
    assert [r.status for r in run_sweep(BASE, ["erm"], [1.0], None, [0, 1], out, 0, False)] == [
        "trained",
        "skipped",
    ]


def test_status_tells_every_state_apart(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    finished, running, failed, interrupted, queued, stale = plan_sweep(
        BASE, ["erm"], seeds=range(6), out=out
    )
    write_json(finished.path / "summary.json", {"done": True})
    write_json(finished.path / "config.json", finished.config.to_dict())
    write_json(failed.path / "config.json", failed.config.to_dict())
    (out / FAILURES_FILE).write_text(json.dumps({"run": failed.name, "error": "boom"}) + "\n")
    write_json(interrupted.path / "config.json", interrupted.config.to_dict())
    # A sweep killed while it still had `stale` queued: its queue file stays, unlocked.
    dead_sweep = python(
        "import sys\n"
        "from pathlib import Path\n"
        "from rest.sweep_status import SweepQueue\n"
        "SweepQueue(Path(sys.argv[1]), 'local', [sys.argv[2]]).__enter__()\n",
        str(out),
        stale.name,
    )
    assert dead_sweep.wait() == 0
    holder = hold_lock(running.path)
    try:
        with SweepQueue(out, "local", [queued.name, running.name]):
            states = {s.name: (s.state, s.detail) for s in sweep_status(out)}
            assert main(["sweep", "--status", str(out)]) == 0
    finally:
        holder.kill()
        holder.wait()
    assert states[finished.name] == ("finished", "")
    assert states[running.name][0] == "running"
    assert f"pid {holder.pid} since" in states[running.name][1]
    assert states[failed.name] == ("failed", "boom")
    assert states[interrupted.name] == ("interrupted", "")
    assert states[queued.name] == ("queued", "")
    assert stale.name not in states  # never started, and its sweep is gone
    printed = capsys.readouterr().out
    rows = [[cell.strip() for cell in line.split("|")[1:3]] for line in printed.splitlines()]
    assert [queued.name, "queued"] in rows
    assert "5 runs in" in printed
    assert "1 queued, 1 running, 1 finished, 1 failed, 1 interrupted" in printed
    assert queued.name not in {s.name for s in sweep_status(out)}  # its sweep has ended
