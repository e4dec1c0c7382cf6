"""The local launcher: a queue of jobs over a fixed set of worker slots on this machine.

Each job runs in a fresh ``spawn`` process (a crash, a leak or the peak memory of one
job never touches another) that dies with the launcher (:mod:`rest.launch.lifeline`).
On Ctrl-C, which the workers receive too, they get ``STOP_GRACE_SECONDS`` to stop on
their own before they are terminated.
A slot may carry environment variables for its workers, which is how the GPU launcher
pins every worker to its device. A worker's stdout and stderr go to
``log_dir/<job name>.log``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.launch.job import Job, JobResult, OnResult, check_names, execute, limit_threads
from rest.launch.lifeline import die_with_parent

STOP_GRACE_SECONDS = 30.0  # how long interrupted workers get to stop on their own


def cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _redirect_output(log_path: Path) -> None:
    """Point this process's stdout and stderr (the file descriptors) at ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _worker(
    job: Job,
    environment: dict[str, str],
    threads: int,
    log_path: str,
    parent_pid: int,
    lifeline: Connection,
    channel: Connection,
) -> None:
    """Entry point of a worker process: guard, pin, run the job, report, exit."""
    die_with_parent(parent_pid, lifeline)
    os.environ.update(environment)  # before anything initialises CUDA
    _redirect_output(Path(log_path))
    limit_threads(threads)
    try:
        channel.send(execute(job))
    except KeyboardInterrupt:
        pass  # the launcher is stopping; the job resumes next time
    finally:
        channel.close()


class LocalLauncher:
    """``workers`` jobs at once on this machine; ``workers=0`` runs them here, one by one."""

    def __init__(
        self,
        workers: int,
        log_dir: str | Path,
        slots: Sequence[dict[str, str]] | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise RestError(f"--workers must be a non-negative integer, got {workers!r}")
        self.slots = list(slots) if slots is not None else [{} for _ in range(workers)]
        self.log_dir = Path(log_dir)

    def run(self, jobs: Sequence[Job], on_result: OnResult | None = None) -> list[JobResult]:
        check_names(jobs)
        results: dict[str, JobResult] = {}

        def finished(result: JobResult) -> None:
            results[result.name] = result
            if on_result is not None:
                on_result(result)

        if not self.slots:
            for job in jobs:
                finished(execute(job))
        else:
            self._run_in_workers(jobs, finished)
        return [results[job.name] for job in jobs]

    def _run_in_workers(self, jobs: Sequence[Job], finished: OnResult) -> None:
        """Keep every slot busy with a fresh process; ``finished`` is called here."""
        context = multiprocessing.get_context("spawn")
        threads = max(1, cores() // len(self.slots))
        pending = deque(jobs)
        free = deque(range(len(self.slots)))
        active: dict[Connection, tuple[Any, Connection, int, Job]] = {}
        try:
            while pending or active:
                while pending and free:
                    job, slot = pending.popleft(), free.popleft()
                    receive, send = context.Pipe(duplex=False)
                    watch, lifeline = context.Pipe(duplex=False)
                    process = context.Process(
                        target=_worker,
                        args=(
                            job,
                            self.slots[slot],
                            threads,
                            str(self.log_dir / f"{job.name}.log"),
                            os.getpid(),
                            watch,
                            send,
                        ),
                        name=f"rest-job:{job.name}",
                    )
                    process.start()
                    send.close()  # the child holds the only writer: its exit reads as EOF
                    watch.close()  # the child holds the only reader of its lifeline
                    active[receive] = (process, lifeline, slot, job)
                for receive in wait(list(active)):
                    process, lifeline, slot, job = active.pop(receive)  # type: ignore[index]
                    try:
                        result: JobResult = receive.recv()  # type: ignore[union-attr]
                    except EOFError:  # it died before reporting (killed, out of memory)
                        process.join()
                        result = JobResult(
                            job.name, error=f"worker process died (exit code {process.exitcode})"
                        )
                    receive.close()  # type: ignore[union-attr]
                    process.join()
                    lifeline.close()
                    free.append(slot)
                    finished(result)
        except KeyboardInterrupt:
            # Ctrl-C reaches the whole process group: each worker stops as its job does on
            # it (a run logs where it stopped, a tuning trial marks itself for retry)
            # unless it is terminated first; those still alive after the grace are.
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for process, _lifeline, _slot, _job in active.values():
                process.join(max(0.0, deadline - time.monotonic()))
            raise
        finally:
            for process, _lifeline, _slot, _job in active.values():
                if process.is_alive():
                    process.terminate()
            for process, lifeline, _slot, _job in active.values():
                process.join()
                lifeline.close()
