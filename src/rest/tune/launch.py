"""Where tuning jobs run: the one hook a launcher plugs into.

Every job of ``rest tune`` -- a trial worker (:func:`rest.tune.trials.run_trials`)
or a rerun of a chosen configuration (:func:`rest.tune.rerun.train_run`) -- is a
picklable module-level function and its arguments, needing nothing but the
filesystem. :func:`run_jobs` runs them here or in local processes; running
them on GPUs or as Slurm array tasks means replacing this one function with a
call to the sweep launchers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_jobs(function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], workers: int) -> list:
    """``[function(*job) for job in jobs]``: in this process when ``workers`` is 0, else in
    ``workers`` fresh local processes sharing the cores. The first error propagates."""
    if workers <= 0:
        return [function(*job) for job in jobs]
    threads = max(1, _cores() // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context, _init_worker, (threads,)) as pool:
        futures = [pool.submit(function, *job) for job in jobs]
        return [future.result() for future in futures]
