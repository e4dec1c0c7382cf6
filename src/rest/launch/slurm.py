"""The Slurm launcher: every job of one ``run`` as one array job, through submitit.

The array's parallelism is bounded (``array_parallelism`` tasks at once); each task
gets ``cpus_per_run`` CPUs (and as many torch threads), ``gpus_per_run`` GPUs,
``mem_gb`` of memory and ``time_min`` minutes on ``partition``; ``sbatch`` passes any
other ``#SBATCH`` option (``--qos=high``, ``--account=lab``, ``--exclusive``). Jobs,
their logs and results live in ``log_dir``, which must be on a filesystem the compute
nodes share (the sweep directory is).

A task that is preempted or reaches its time limit is requeued by submitit (Slurm
signals it ``USR2`` ahead of the limit) and runs its job again; a training run then
resumes from its last saved state. The launcher waits by polling ``squeue`` and the
result files, so it works without Slurm accounting (``sacct``); a task that leaves
the queue without a result (``scancel``, a node failure) is reported as failed, with
its final state when Slurm still lists it.
``log_dir/jobs.json`` maps job names to Slurm ids, for ``rest sweep --status``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.launch.job import Job, JobResult, OnResult, check_names, execute, limit_threads

JOBS_FILE = "jobs.json"


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of every array task (``rest sweep --slurm-*`` flags)."""

    partition: str | None = None
    time_min: int = 60
    cpus_per_run: int = 1
    gpus_per_run: int = 0
    mem_gb: float | None = None
    array_parallelism: int = 32
    sbatch: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, least in (
            ("time_min", 1),
            ("cpus_per_run", 1),
            ("gpus_per_run", 0),
            ("array_parallelism", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                flag = "--slurm-" + name.replace("_", "-")
                raise RestError(f"{flag} must be an integer >= {least}, got {value!r}")
        if self.mem_gb is not None and not self.mem_gb > 0:
            raise RestError(f"--slurm-mem-gb must be positive, got {self.mem_gb!r}")
        self.sbatch_parameters()  # validates the extra options

    def sbatch_parameters(self) -> dict[str, Any]:
        """``--key=value`` options as submitit's ``additional_parameters`` (``--flag``: True)."""
        parameters: dict[str, Any] = {}
        for option in self.sbatch:
            key, equals, value = option.lstrip("-").partition("=")
            if not option.startswith("--") or not key:
                raise RestError(
                    f"--slurm-sbatch: {option!r} is not a long sbatch option; "
                    "write it as --name=value (e.g. --qos=high) or --flag"
                )
            parameters[key] = value if equals else True
        return parameters

    def executor_parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "time": self.time_min,
            "cpus_per_task": self.cpus_per_run,
            "array_parallelism": self.array_parallelism,
            "additional_parameters": self.sbatch_parameters(),
        }
        if self.partition:
            parameters["partition"] = self.partition
        if self.gpus_per_run:
            parameters["gpus_per_node"] = self.gpus_per_run
        if self.mem_gb is not None:
            parameters["mem"] = f"{max(1, round(self.mem_gb * 1024))}MB"
        return parameters


class SlurmTask:
    """What each array task runs: one job; requeued (same job) on preemption or timeout."""

    def __call__(self, job: Job) -> JobResult:
        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        if cpus:
            limit_threads(int(cpus))
        return execute(job)

    def checkpoint(self, job: Job) -> Any:
        """Called by submitit before requeueing: run the same job again (it resumes)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, job)


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise RestError("--launcher slurm needs submitit: pip install 'rest[slurm]'") from None
    if shutil.which("sbatch") is None:
        raise RestError(
            "--launcher slurm: no sbatch on PATH; run rest on a Slurm login node "
            "(or set PATH to Slurm's binaries)"
        )
    return submitit


# Terminal states: squeue lists a task in one of these for MinJobAge after it ended.
ENDED_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "TIMEOUT",
    }
)


def task_states(array_ids: set[str]) -> dict[str, str]:
    """Slurm id -> state of every task of these array jobs that Slurm still knows: those
    in the queue (PENDING, RUNNING, REQUEUED, ...) and, for a while after, those that
    ended (one of ``ENDED_STATES``). Every state is asked for (``-t all``) because
    squeue's default lists only pending, running and completing tasks, and a requeued
    task can pass through states outside those."""
    if not array_ids:
        return {}
    command = ["squeue", "-h", "-r", "-t", "all", "-o", "%i %T", "-j", ",".join(sorted(array_ids))]
    listing = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if listing.returncode != 0:
        if "Invalid job id" in listing.stderr:  # every one of them has left the queue
            return {}
        raise RestError(f"squeue failed: {listing.stderr.strip() or listing.returncode}")
    states = {}
    for line in listing.stdout.splitlines():
        task, _, state = line.strip().partition(" ")
        states[task] = state
    return states


def queued_ids(array_ids: set[str]) -> dict[str, str]:
    """Slurm id -> state of every task of these array jobs that has not ended yet."""
    return {
        task: state for task, state in task_states(array_ids).items() if state not in ENDED_STATES
    }


class Departures:
    """Tells when a task without a result has left the queue for good: it is seen ended
    (or not at all) for ``grace_seconds`` in a row, the time a result file may take to
    cross a shared filesystem. Seeing the task queued again restarts the count, so short
    gaps while Slurm requeues it never add up to a departure."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self._unseen_since: dict[str, float] = {}

    def departed(self, name: str, state: str | None, now: float) -> bool:
        if state is not None and state not in ENDED_STATES:
            self._unseen_since.pop(name, None)
            return False
        return now - self._unseen_since.setdefault(name, now) >= self.grace_seconds


class SlurmLauncher:
    def __init__(
        self,
        options: SlurmOptions,
        log_dir: str | Path,
        poll_seconds: float = 2.0,
        result_grace_seconds: float = 5.0,
    ) -> None:
        self.options = options
        self.log_dir = Path(log_dir)
        self.poll_seconds = poll_seconds
        self.result_grace_seconds = result_grace_seconds

    def run(self, jobs: Sequence[Job], on_result: OnResult | None = None) -> list[JobResult]:
        check_names(jobs)
        if not jobs:
            return []
        submitit = _submitit()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        executor = submitit.SlurmExecutor(folder=self.log_dir)
        executor.update_parameters(**self.options.executor_parameters())
        task = SlurmTask()
        try:
            with executor.batch():
                handles = [executor.submit(task, job) for job in jobs]
        except Exception as error:  # sbatch refused the array (bad partition, option...)
            first = str(error).strip().splitlines()[-1] if str(error).strip() else error
            raise RestError(f"sbatch refused the array job: {first}") from None
        remaining = {job.name: handle for job, handle in zip(jobs, handles, strict=True)}
        self._record({name: handle.job_id for name, handle in remaining.items()})
        results: dict[str, JobResult] = {}
        departures = Departures(self.result_grace_seconds)
        while remaining:
            states = task_states({handle.job_id.split("_")[0] for handle in remaining.values()})
            for name, handle in list(remaining.items()):
                state = states.get(handle.job_id)
                if handle.paths.result_pickle.exists():
                    result = _read_result(name, handle)
                elif not departures.departed(name, state, time.monotonic()):
                    continue  # queued, or its result may still be on its way
                else:
                    ended = f" ({state})" if state else ""
                    result = JobResult(
                        name,
                        error=f"slurm job {handle.job_id} left the queue{ended} without a "
                        f"result (cancelled, out of time or memory, or its node failed); "
                        f"log: {handle.paths.stderr}",
                    )
                del remaining[name]
                results[name] = result
                if on_result is not None:
                    on_result(result)
            if remaining:
                time.sleep(self.poll_seconds)
        return [results[job.name] for job in jobs]

    def _record(self, ids: dict[str, str]) -> None:
        path = self.log_dir / JOBS_FILE
        known = json.loads(path.read_text()) if path.is_file() else {}
        temporary = path.with_name(f".{JOBS_FILE}.{os.getpid()}")
        temporary.write_text(json.dumps({**known, **ids}, indent=2) + "\n")
        os.replace(temporary, path)  # --status never reads half a file


def _read_result(name: str, handle: Any) -> JobResult:
    try:
        result = handle.result()
    except Exception as error:  # submitit could not run the task at all
        lines = str(error).strip().splitlines()
        return JobResult(
            name, error=f"slurm job {handle.job_id} failed: {lines[-1] if lines else error}"
        )
    if not isinstance(result, JobResult):
        return JobResult(name, value=result)
    return result
