"""What a launcher runs (:class:`Job`) and what it reports back (:class:`JobResult`)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rest.errors import RestError


@dataclass(frozen=True)
class Job:
    """One independent piece of work: ``function(*args)`` in a process of its own."""

    name: str
    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass
class JobResult:
    """How a job ended: its return ``value``, or an ``error`` line (and a traceback for bugs)."""

    name: str
    value: Any = None
    error: str | None = None
    details: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


OnResult = Callable[[JobResult], None]


class Launcher(Protocol):
    def run(self, jobs: Sequence[Job], on_result: OnResult | None = None) -> list[JobResult]:
        """Run every job; results in the order of ``jobs``."""
        ...


def execute(job: Job) -> JobResult:
    """Call the job here and now; an exception becomes its error line."""
    try:
        return JobResult(job.name, value=job.function(*job.args))
    except RestError as error:
        return JobResult(job.name, error=str(error))
    except Exception as error:  # a bug: keep the traceback
        name, lines = type(error).__name__, str(error).strip().splitlines()
        return JobResult(
            job.name,
            error=f"{name}: {lines[0]}" if lines else name,
            details=traceback.format_exc(),
        )


def check_names(jobs: Sequence[Job]) -> None:
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise RestError("launcher: job names must be unique within one run")


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` torch threads, whether or not torch is imported yet
    (jobs that do not need torch then do not pay for importing it)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
