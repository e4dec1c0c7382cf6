"""``rest sweep``: train methods x densities x conflict ratios x seeds."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rest.cli.options import add_config_flags, config_from_args
from rest.errors import RestError
from rest.launch import LAUNCHERS, Launcher, SlurmOptions, make_launcher
from rest.sweep_status import LAUNCH_DIR, SLURM_DIR
from rest.tables import markdown_table

DEFAULT_SWEEP_DIR = "runs"

# sweep axis -> the single-value config flag (argparse dest, flag) it replaces
AXES = {
    "methods": ("method", "--method"),
    "densities": ("sparse.density", "--density"),
    "conflict_pcts": ("data.conflict_pct", "--conflict-pct"),
    "seeds": ("run.seed", "--seed"),
}

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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="train a grid of methods, densities, conflict ratios and seeds",
        description="Train every combination of --methods, --densities (sparse methods only; "
        "dense methods run once at density 1), --conflict-pcts and --seeds, each in its own "
        "run directory OUT/<run name>. Finished runs are skipped, interrupted ones resumed, "
        "failed ones retried. Other flags and --config set the base config of every run. "
        "Lists take several values or commas: --densities 0.01 0.05 0.1 or --seeds 41,42,43.",
    )
    parser.add_argument("--methods", nargs="+", metavar="NAME", help="methods (default: --method)")
    parser.add_argument(
        "--densities", nargs="+", metavar="D", help="densities in (0, 1] (default: --density)"
    )
    parser.add_argument(
        "--conflict-pcts",
        nargs="+",
        metavar="PCT",
        help="percentages of bias-conflicting training samples (default: --conflict-pct)",
    )
    parser.add_argument("--seeds", nargs="+", metavar="SEED", help="seeds (default: --seed)")
    parser.add_argument("--config", help="JSON config file: the base config of every run")
    parser.add_argument(
        "--out",
        default=DEFAULT_SWEEP_DIR,
        help=f"sweep directory holding one directory per run (default: {DEFAULT_SWEEP_DIR})",
    )
    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help="where runs train: local processes, every visible GPU of this node, or a Slurm "
        "array job (default: local)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="--launcher local: runs trained at once, each in its own process with cores/N "
        "torch threads; 0 trains in this process (default: 1)",
    )
    parser.add_argument(
        "--runs-per-gpu",
        type=int,
        metavar="K",
        help="--launcher gpus: runs trained at once on each visible GPU (default: 1)",
    )
    for field in dataclasses.fields(SlurmOptions):
        flag = "--slurm-" + field.name.replace("_", "-")
        if field.name == "sbatch":
            parser.add_argument(flag, action="append", metavar="OPTION", help=SLURM_HELP["sbatch"])
            continue
        kind = {"partition": str, "mem_gb": float}.get(field.name, int)
        parser.add_argument(flag, type=kind, help="--launcher slurm: " + SLURM_HELP[field.name])
    parser.add_argument(
        "--status",
        metavar="OUT",
        help="show whether each run of the sweep in OUT is queued, running, finished or failed "
        "(any launcher); train nothing",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the runs and their state; train nothing"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_flags(parser)
    parser.set_defaults(func=run_sweep_command)


def _axes(args: argparse.Namespace) -> dict[str, Any]:
    for axis, (dest, flag) in AXES.items():
        if getattr(args, axis) is not None and hasattr(args, dest):
            option = "--" + axis.replace("_", "-")
            raise RestError(f"give either {flag} or {option}, not both")
    return {axis: getattr(args, axis) for axis in AXES}


def _launcher(args: argparse.Namespace) -> Launcher:
    """The launcher the flags ask for; a flag meant for another launcher is an error."""
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
    launch_dir = f"{args.out}/{LAUNCH_DIR}"
    return make_launcher(
        args.launcher,
        log_dir=f"{launch_dir}/{SLURM_DIR}" if args.launcher == "slurm" else f"{launch_dir}/logs",
        workers=1 if args.workers is None else args.workers,
        runs_per_gpu=1 if args.runs_per_gpu is None else args.runs_per_gpu,
        slurm=SlurmOptions(**slurm_given),
    )


def _print_status(out: str) -> int:
    from rest.sweep_status import counts, sweep_status

    statuses = sweep_status(out)
    if not statuses:
        print(f"no runs in {out} yet")
        return 0
    rows = [[status.name, status.state, status.detail] for status in statuses]
    print(markdown_table(["run", "state", "detail"], rows))
    summary = ", ".join(f"{number} {state}" for state, number in counts(statuses).items())
    print(f"\n{len(statuses)} runs in {out}: {summary}")
    return 0


def run_sweep_command(args: argparse.Namespace) -> int:
    from rest.sweep import plan_sweep, run_sweep

    if args.status is not None:
        return _print_status(args.status)
    base = config_from_args(args)
    axes = _axes(args)
    if args.workers is not None and args.workers < 0:  # checked before --dry-run too
        raise RestError(f"--workers must be a non-negative integer, got {args.workers}")
    if args.dry_run:
        runs = plan_sweep(base, out=args.out, **axes)
        rows = [
            [
                run.name,
                run.config.method,
                f"{run.config.data.conflict_pct:g}",
                f"{run.config.sparse.density:g}",
                run.config.run.seed,
                run.state,
            ]
            for run in runs
        ]
        print(markdown_table(["run", "method", "conflict %", "density", "seed", "state"], rows))
        states = [run.state for run in runs]
        print(
            f"\n{len(runs)} runs in {args.out}: {states.count('new')} new, "
            f"{states.count('interrupted')} to resume, {states.count('finished')} finished"
        )
        return 0
    launcher = _launcher(args)
    results = run_sweep(
        base,
        out=args.out,
        progress=not args.no_progress,
        launcher=launcher,
        launcher_name=args.launcher,
        **axes,
    )
    statuses = [result.status for result in results]
    failed = [result for result in results if result.status == "failed"]
    busy = [result for result in results if result.status == "busy"]
    print(
        f"{statuses.count('trained')} trained, {statuses.count('skipped')} already finished, "
        f"{len(failed)} failed, {len(busy)} busy in another process; "
        f"run directories in {args.out}"
    )
    for result in failed:
        print(f"failed: {result.run.name}: {result.error}")
    for result in busy:
        print(f"busy: {result.error}")
    if failed:
        print(f"details in {args.out}/failures.jsonl; run the same command again to retry")
    if busy:
        print(f"see them with rest sweep --status {args.out}; run again once they finish")
    if failed or busy:
        return 1
    print(f"tables and plots: rest report {args.out}")
    return 0
