"""Launchers: run N independent jobs on this machine, on every GPU of a node, or on Slurm.

The public API, shared by ``rest sweep`` and anything else that fans work out::

    from rest.launch import Job, make_launcher

    jobs = [Job(name="trial-3", function=module.top_level_function, args=(config, path))]
    launcher = make_launcher("local", log_dir=out / ".launch", workers=2)
    results = launcher.run(jobs, on_result=lambda result: print(result.name, result.ok))

- :class:`Job`: ``name`` (unique within one ``run``), ``function`` (a picklable,
  importable top-level callable) and its ``args``. A job runs in its own process (a
  fresh ``spawn`` worker locally, a Slurm array task on a cluster); its return value
  must be picklable too.
- ``launcher.run(jobs, on_result=None) -> list[JobResult]``, in the order of ``jobs``;
  ``on_result`` is called in the calling process as each job ends. It returns when
  every job has ended: a job never raises into the caller, its exception becomes
  :attr:`JobResult.error` (one line; :attr:`JobResult.details` keeps the traceback of
  anything that is not a :class:`~rest.errors.RestError`).
- ``log_dir``: where a launcher keeps its logs (``<job name>.log`` locally, submitit's
  files for Slurm).
- Launchers (:func:`make_launcher`): ``local`` (``workers`` processes at once, each with
  ``cores / workers`` torch threads; ``workers=0`` runs in this process), ``gpus``
  (``runs_per_gpu`` processes per visible GPU, each pinned with
  ``CUDA_VISIBLE_DEVICES``), ``slurm`` (one array job through submitit,
  :class:`SlurmOptions`). Local and GPU workers die with the process that started them.
"""

from __future__ import annotations

from pathlib import Path

from rest.errors import RestError
from rest.launch.gpus import GpusLauncher
from rest.launch.job import Job, JobResult, Launcher
from rest.launch.local import LocalLauncher
from rest.launch.slurm import SlurmLauncher, SlurmOptions

LAUNCHERS = ("local", "gpus", "slurm")

__all__ = [
    "LAUNCHERS",
    "GpusLauncher",
    "Job",
    "JobResult",
    "Launcher",
    "LocalLauncher",
    "SlurmLauncher",
    "SlurmOptions",
    "make_launcher",
]


def make_launcher(
    name: str,
    log_dir: str | Path,
    workers: int = 1,
    runs_per_gpu: int = 1,
    slurm: SlurmOptions | None = None,
) -> Launcher:
    """The launcher called ``name``, configured with the options that apply to it."""
    log_dir = Path(log_dir)
    if name == "local":
        return LocalLauncher(workers, log_dir)
    if name == "gpus":
        return GpusLauncher(runs_per_gpu, log_dir)
    if name == "slurm":
        return SlurmLauncher(slurm or SlurmOptions(), log_dir)
    raise RestError(f"--launcher: unknown launcher {name!r}; choose one of {', '.join(LAUNCHERS)}")
