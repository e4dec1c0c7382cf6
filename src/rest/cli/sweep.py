"""``rest sweep``: train methods x densities x conflict ratios x seeds."""

from __future__ import annotations

import argparse
from typing import Any

from rest.cli.launch_options import add_launcher_flags, check_workers, launcher_from_args
from rest.cli.options import add_config_flags, config_from_args
from rest.errors import RestError
from rest.tables import markdown_table

DEFAULT_SWEEP_DIR = "runs"

# sweep axis -> the single-value config flag (argparse dest, flag) it replaces
AXES = {
    "methods": ("method", "--method"),
    "densities": ("sparse.density", "--density"),
    "conflict_pcts": ("data.conflict_pct", "--conflict-pct"),
    "seeds": ("run.seed", "--seed"),
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
    add_launcher_flags(parser)
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
    check_workers(args)  # before --dry-run too
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
    launcher = launcher_from_args(args, args.out)
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
