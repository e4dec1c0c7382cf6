"""The slurm launcher against a real single-node Slurm (munged, slurmctld, slurmd on
this machine; see tests/conftest.py): a sweep as one array job, every summary checked; a
cancelled job's run resumed by the next sweep, ending where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rest import api
from rest.cli import main
from rest.runs import LOCK_FILE, RunLock
from rest.sweep import FAILURES_FILE
from rest.sweep_status import LAUNCH_DIR, SLURM_DIR

from processes import HERE, wait_until

TINY = [
    *("--dataset", "cmnist", "--image-size", "8", "--model", "mlp", "--width", "8"),
    *("--device", "cpu", "--lr", "0.05", "--scheduler", "none"),
]
SLURM = ["--launcher", "slurm", "--slurm-cpus-per-run", "1", "--no-progress"]


def _jobs(out: Path) -> dict[str, str]:
    return json.loads((out / LAUNCH_DIR / SLURM_DIR / "jobs.json").read_text())


def _state(job_id: str) -> str:
    listing = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True
    )
    return listing.stdout.strip()


def test_a_sweep_runs_as_one_array_job(slurm, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    grid = ["--methods", "erm", "rest", "--densities", "0.5", "--seeds", "0", "1"]
    argv = [
        "sweep",
        *grid,
        "--epochs",
        "1",
        "--batch-size",
        "512",
        *TINY,
        "--out",
        str(out),
        *SLURM,
    ]
    assert main([*argv, "--slurm-array-parallelism", "2"]) == 0
    assert "4 trained, 0 already finished, 0 failed" in capsys.readouterr().out
    summaries = sorted(out.glob("*/summary.json"))
    assert len(summaries) == 4
    found = set()
    for path in summaries:
        summary = json.loads(path.read_text())
        found.add((summary["method"], summary["seed"], summary["density"]))
        assert summary["epochs"] == 1
    assert found == {("erm", 0, 1.0), ("erm", 1, 1.0), ("rest", 0, 0.5), ("rest", 1, 0.5)}
    ids = _jobs(out)
    assert sorted(ids) == sorted(path.parent.name for path in summaries)
    assert len({job_id.split("_")[0] for job_id in ids.values()}) == 1  # one array job
    assert main(["sweep", "--status", str(out)]) == 0
    assert "4 runs in" in (printed := capsys.readouterr().out) and "4 finished" in printed
    assert main([*argv]) == 0  # nothing left to do: nothing submitted
    assert "0 trained, 4 already finished" in capsys.readouterr().out
    assert _jobs(out) == ids


def test_a_cancelled_run_resumes_and_ends_like_an_uninterrupted_one(slurm, tmp_path) -> None:
    out = tmp_path / "sweep"
    # Small batches and 20 epochs: seconds of training left after the first is saved.
    epochs = ["--epochs", "20", "--checkpoint-every", "1", "--batch-size", "16"]
    argv = ["sweep", "--method", "erm", "--seed", "3", *epochs, *TINY, "--out", str(out), *SLURM]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    first = subprocess.Popen(
        [sys.executable, "-m", "rest", *argv], env=env, stdout=subprocess.PIPE, text=True
    )
    jobs_file = out / LAUNCH_DIR / SLURM_DIR / "jobs.json"
    try:
        wait_until(jobs_file.is_file, 120, "the array job to be submitted")
        ((name, job_id),) = _jobs(out).items()
        resume_state = out / name / "checkpoints" / "resume.pt"
        wait_until(resume_state.is_file, 180, "the first saved epoch")
        # Freeze it first (SIGSTOP, immediate): scancel's SIGTERM is ignored by submitit,
        # and an idle machine could finish the run before the SIGKILL that follows.
        subprocess.run(["scontrol", "suspend", job_id], check=True)
        subprocess.run(["scancel", job_id], check=True)
        printed, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:  # the sweep never noticed: do not leave it behind
            first.kill()
            first.wait()
    assert first.returncode == 1, printed
    # Slurm still lists the ended task, so the error names how it ended.
    left = f"failed: {name}: slurm job {job_id} left the queue (CANCELLED) without a result"
    assert left in printed
    saved = json.loads((out / FAILURES_FILE).read_text().splitlines()[0])
    assert saved["run"] == name
    done = len((out / name / "metrics.jsonl").read_text().splitlines())
    assert 1 <= done < 20, "the job was cancelled mid-run"

    # Slurm may list the task as cancelled before its killed process is gone; until
    # then the run is busy, and a rerun says so. Wait for the lock, as a user would.
    lock = out / name / LOCK_FILE
    wait_until(lambda: not RunLock.file_held(lock), 60, "the cancelled task to let go")
    assert main(argv) == 0  # the rerun resumes from the saved state
    log = (out / name / "log.txt").read_text()
    assert f"resuming {out / name} after epoch " in log
    resumed = json.loads((out / name / "summary.json").read_text())

    config = json.loads((out / name / "config.json").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the Slurm task (--slurm-cpus-per-run 1)
    try:
        reference = api.train(config, out=tmp_path / "reference", progress=False)
    finally:
        torch.set_num_threads(threads)
    for key in ("selected", "last"):
        assert resumed[key]["epoch"] == reference[key]["epoch"]
        for split in ("valid", "test"):
            assert resumed[key][split]["accuracy"] == pytest.approx(
                reference[key][split]["accuracy"]
            )
            assert resumed[key][split]["loss"] == pytest.approx(reference[key][split]["loss"])
    assert not (out / FAILURES_FILE).exists()


def test_a_preempted_run_is_requeued_and_resumes(slurm, tmp_path: Path, capsys) -> None:
    """Slurm's warning signal before a time limit or a preemption (USR2, as sent with
    --signal): submitit requeues the task, which resumes its run from the saved state
    within the same sweep."""
    out = tmp_path / "sweep"
    epochs = ["--epochs", "40", "--checkpoint-every", "1", "--batch-size", "16"]
    argv = ["sweep", "--method", "erm", "--seed", "4", *epochs, *TINY, "--out", str(out), *SLURM]
    jobs_file = out / LAUNCH_DIR / SLURM_DIR / "jobs.json"

    def preempt_after_first_epoch() -> None:
        wait_until(jobs_file.is_file, 120, "the array job to be submitted")
        ((name, job_id),) = _jobs(out).items()
        wait_until((out / name / "checkpoints" / "resume.pt").is_file, 180, "a saved epoch")
        subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
        # Slurm holds a requeued job back until its old credential has expired (the test
        # cluster's REQUEUE_DELAY_SECONDS). Releasing it sooner races that expiry: the
        # restart is then refused ("Job credential revoked") and the job fails.
        wait_until(lambda: _state(job_id) == "PENDING", 120, "the task to be requeued")

    import threading

    signaller = threading.Thread(target=preempt_after_first_epoch)
    signaller.start()
    try:
        assert main(argv) == 0
    finally:
        signaller.join()
    assert "1 trained, 0 already finished, 0 failed" in capsys.readouterr().out
    ((name, _job_id),) = _jobs(out).items()
    log = (out / name / "log.txt").read_text()
    assert f"resuming {out / name} after epoch " in log
    assert json.loads((out / name / "summary.json").read_text())["last"]["epoch"] == 40
