"""Where every run of a sweep stands: ``rest sweep --status OUT``, on any launcher.

A sweep leaves enough on the (shared) filesystem to answer without asking it:

- ``RUN/summary.json``: the run is **finished**;
- the lock of ``RUN/`` held (:class:`rest.runs.RunLock`): it is **running** (holder named);
- ``OUT/.launch/queues/<host>-<pid>.json``: the runs a live sweep still has to train,
  locked (flock) by that sweep while it runs, so a killed sweep's queue reads as
  stale: they are **queued**;
- ``OUT/.launch/slurm/jobs.json``: the Slurm task of each run; ``squeue`` says
  whether it is still **queued** (pending) or **running**, even after the sweep
  process that submitted it has gone;
- ``OUT/failures.jsonl``: its last attempt **failed**;
- otherwise a run with a ``config.json`` is **interrupted** (the next sweep resumes it).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.runs import LOCK_FILE, RunDirectory, RunLock

LAUNCH_DIR = ".launch"
QUEUES_DIR = "queues"
SLURM_DIR = "slurm"
STATES = ("queued", "running", "finished", "failed", "interrupted")


class SweepQueue:
    """The queue file of one live sweep, flock-held from ``__enter__`` to ``__exit__``."""

    def __init__(self, out: Path, launcher: str, runs: list[str]) -> None:
        self.path = out / LAUNCH_DIR / QUEUES_DIR / f"{socket.gethostname()}-{os.getpid()}.json"
        self.record = {
            "launcher": launcher,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "runs": runs,
        }
        self._fd: int | None = None

    def __enter__(self) -> SweepQueue:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (json.dumps(self.record) + "\n").encode())
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def _live_queued(out: Path) -> set[str]:
    """Runs listed by the queue of a sweep that is still running."""
    names: set[str] = set()
    for path in sorted((out / LAUNCH_DIR / QUEUES_DIR).glob("*.json")):
        if not RunLock.file_held(path):
            continue  # its sweep was killed: the OS released the lock
        try:
            names.update(json.loads(path.read_text())["runs"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return names


def _slurm_states(out: Path) -> dict[str, tuple[str, str]]:
    """Run name -> (Slurm id, squeue state) for runs whose task is still in the queue."""
    from rest.launch.slurm import JOBS_FILE, queued_ids

    path = out / LAUNCH_DIR / SLURM_DIR / JOBS_FILE
    if not path.is_file():
        return {}
    try:
        ids: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    try:
        states = queued_ids({job_id.split("_")[0] for job_id in ids.values()})
    except (RestError, OSError):
        return {}  # no squeue here: the filesystem's view has to do
    return {name: (job_id, states[job_id]) for name, job_id in ids.items() if job_id in states}


def _failures(out: Path) -> dict[str, str]:
    from rest.sweep import FAILURES_FILE

    failures: dict[str, str] = {}
    path = out / FAILURES_FILE
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
                failures[record["run"]] = record["error"]
            except (ValueError, KeyError, TypeError):
                continue
    return failures


@dataclass(frozen=True)
class RunStatus:
    name: str
    state: str
    detail: str = ""


def sweep_status(out: str | Path) -> list[RunStatus]:
    """The state of every run the sweep directory ``out`` knows of, sorted by name."""
    out = Path(out)
    if not out.is_dir():
        raise RestError(f"--status: {out} is not a sweep directory (it does not exist)")
    names = {
        path.name
        for path in out.iterdir()
        if path.is_dir()
        and path.name != LAUNCH_DIR
        and ((path / "config.json").is_file() or (path / LOCK_FILE).is_file())
    }
    queued = _live_queued(out)
    slurm = _slurm_states(out)
    failures = _failures(out)
    statuses = []
    for name in sorted(names | queued | set(slurm)):
        run = RunDirectory(out / name)
        lock = run.lock()
        if run.finished:
            status = RunStatus(name, "finished")
        elif lock.held():
            status = RunStatus(name, "running", lock.holder())
        elif name in slurm and slurm[name][1] not in ("PENDING", "REQUEUED", "SUSPENDED"):
            status = RunStatus(name, "running", f"slurm job {slurm[name][0]} {slurm[name][1]}")
        elif name in slurm:
            status = RunStatus(name, "queued", f"slurm job {slurm[name][0]} {slurm[name][1]}")
        elif name in queued:
            status = RunStatus(name, "queued")
        elif name in failures:
            status = RunStatus(name, "failed", failures[name])
        else:
            status = RunStatus(name, "interrupted" if run.started else "new")
        statuses.append(status)
    return statuses


def counts(statuses: list[RunStatus]) -> dict[str, Any]:
    found = [status.state for status in statuses]
    return {state: found.count(state) for state in (*STATES, "new") if found.count(state)}
