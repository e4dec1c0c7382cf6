"""Where tuning jobs run: on the launcher ``rest tune --launcher`` picks (:mod:`rest.launch`).

Every job of ``rest tune`` -- a trial worker (:func:`rest.tune.trials.run_trials`)
or a rerun of a chosen configuration (:func:`rest.tune.rerun.train_run`) -- is a
picklable module-level function and its arguments, needing nothing but the tuning
directory (the study file and the run directories). So the same jobs run in this
process, in local processes, k per GPU, or as Slurm array tasks sharing the tuning
directory on a shared filesystem.
"""

from __future__ import annotations

from collections.abc import Sequence

from rest.errors import RestError
from rest.launch import Job, Launcher, LocalLauncher, SlurmLauncher


def trial_workers(launcher: Launcher) -> int:
    """How many trial workers per study keep the launcher busy: its processes at once
    (1 when it trains in this process), or the Slurm array's parallelism."""
    if isinstance(launcher, SlurmLauncher):
        return launcher.options.array_parallelism
    if isinstance(launcher, LocalLauncher):
        return max(1, len(launcher.slots))
    return 1


def run_jobs(launcher: Launcher, jobs: Sequence[Job]) -> list:
    """Run ``jobs`` on ``launcher`` and return their values in order; a failed job is a
    one-line :class:`RestError` naming it (after every job has ended)."""
    results = launcher.run(jobs)
    failed = [result for result in results if not result.ok]
    if failed:
        first = failed[0]
        others = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        where = getattr(launcher, "log_dir", None)
        logs = f"; logs in {where}" if where is not None else ""
        raise RestError(f"tune job {first.name} failed: {first.error}{others}{logs}")
    return [result.value for result in results]
