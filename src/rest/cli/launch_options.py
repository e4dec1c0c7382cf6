"""The launcher flags shared by ``rest sweep`` and ``rest tune``, and the launcher they build.

``--launcher`` picks local processes, every visible GPU of this node, or a Slurm array
job (:mod:`rest.launch`); ``--workers``, ``--runs-per-gpu`` and ``--slurm-*`` configure
the launcher they belong to, and giving one to another launcher is an error rather
than a flag that silently does nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rest.errors import RestError
from rest.launch import LAUNCHERS, Launcher, SlurmOptions, make_launcher
from rest.sweep_status import LAUNCH_DIR, SLURM_DIR

# SlurmOptions field -> help of its --slurm-* flag
SLURM_HELP = {
    "partition": "partition of every array task (default: the cluster's default)",
    "time_min": "time limit of each run in minutes; a run that reaches it is requeued and "
    "resumes (default: 60)",
    "cpus_per_run": "CPUs (and torch threads) per run (default: 1)",
    "gpus_per_run": "GPUs per run (default: 0)",
    "mem_gb": "memory per run in GB (default: the cluster's default)",
    "array_parallelism": "array tasks running at once (default: 32)",
    "sbatch": "other sbatch options, e.g. --slurm-sbatch=--qos=high --slurm-sbatch=--account=lab",
}


def add_launcher_flags(parser: argparse.ArgumentParser, runs: str = "runs") -> None:
    """``--launcher``, ``--workers``, ``--runs-per-gpu`` and ``--slurm-*``; ``runs`` names
    what the jobs train in the help texts."""
    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help=f"where {runs} train: local processes, every visible GPU of this node, or a "
        "Slurm array job (default: local)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"--launcher local: {runs} trained at once, each in its own process with "
        "cores/N torch threads; 0 trains in this process (default: 1)",
    )
    parser.add_argument(
        "--runs-per-gpu",
        type=int,
        metavar="K",
        help=f"--launcher gpus: {runs} trained at once on each visible GPU (default: 1)",
    )
    for field in dataclasses.fields(SlurmOptions):
        flag = "--slurm-" + field.name.replace("_", "-")
        if field.name == "sbatch":
            parser.add_argument(flag, action="append", metavar="OPTION", help=SLURM_HELP["sbatch"])
            continue
        kind = {"partition": str, "mem_gb": float}.get(field.name, int)
        parser.add_argument(flag, type=kind, help="--launcher slurm: " + SLURM_HELP[field.name])


def check_workers(args: argparse.Namespace) -> None:
    """A negative ``--workers`` is an error (checked early, before any dry run)."""
    if args.workers is not None and args.workers < 0:
        raise RestError(f"--workers must be a non-negative integer, got {args.workers}")


def launcher_from_args(args: argparse.Namespace, out: str | Path) -> Launcher:
    """The launcher the flags ask for, logging under ``out``; a flag meant for another
    launcher is an error."""
    check_workers(args)
    slurm_given = {
        field.name: getattr(args, "slurm_" + field.name)
        for field in dataclasses.fields(SlurmOptions)
        if getattr(args, "slurm_" + field.name) is not None
    }
    misplaced = [
        flag
        for flag, given, launcher in (
            ("--workers", args.workers is not None, "local"),
            ("--runs-per-gpu", args.runs_per_gpu is not None, "gpus"),
            *(("--slurm-" + name.replace("_", "-"), True, "slurm") for name in slurm_given),
        )
        if given and args.launcher != launcher
    ]
    if misplaced:
        raise RestError(
            f"{misplaced[0]} does not apply to --launcher {args.launcher}; drop it or pick "
            "the launcher it belongs to"
        )
    if "sbatch" in slurm_given:
        slurm_given["sbatch"] = tuple(slurm_given["sbatch"])
    launch_dir = f"{out}/{LAUNCH_DIR}"
    return make_launcher(
        args.launcher,
        log_dir=f"{launch_dir}/{SLURM_DIR}" if args.launcher == "slurm" else f"{launch_dir}/logs",
        workers=1 if args.workers is None else args.workers,
        runs_per_gpu=1 if args.runs_per_gpu is None else args.runs_per_gpu,
        slurm=SlurmOptions(**slurm_given),
    )
