"""``rest tune``: hyperparameter search on validation, then reruns over seeds and a report."""

from __future__ import annotations

import argparse

from rest.cli.launch_options import add_launcher_flags, launcher_from_args
from rest.cli.options import add_config_flags, config_from_args
from rest.errors import RestError

DEFAULT_TUNE_DIR = "tune"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="tune each method's hyperparameters on validation, rerun the choice over seeds",
        description="For every method in --methods (at every --densities value for the "
        "sparse ones) run an Optuna study of --trials trials over the method's documented "
        "search space, each trial a run directory under OUT/trials; the objective is read "
        "from the validation split only, and pruning stops trials whose per-epoch "
        "validation metric is hopeless. Then each study's best trial is retrained over "
        "--seeds beside the same method at the published defaults (the other flags and "
        "--config), and OUT/report.md holds the table. Rerunning continues the studies up "
        "to --trials, never beyond; trials use --seed. Trials and reruns run on "
        "--launcher (local processes, every GPU of this node, or Slurm array tasks sharing "
        "OUT). Needs the tune extra "
        "(pip install 'rest[tune]').",
    )
    parser.add_argument(
        "--methods", nargs="+", metavar="NAME", help="methods to tune (default: --method)"
    )
    parser.add_argument(
        "--densities",
        nargs="+",
        type=float,
        metavar="D",
        help="densities the sparse methods are tuned at, one study each; density is never "
        "tuned (default: --density)",
    )
    parser.add_argument(
        "--trials", type=int, default=20, metavar="N", help="trials per study (default: 20)"
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[41, 42, 43],
        metavar="SEED",
        help="seeds of the reruns of the chosen and default configurations (default: 41 42 43)",
    )
    parser.add_argument(
        "--objective",
        default="auto",
        choices=["auto", "worst_group", "accuracy", "unbiased"],
        help="validation metric maximised; auto: worst-group when the validation split has "
        "bias labels, else accuracy (default: auto)",
    )
    parser.add_argument(
        "--pruner",
        default="median",
        choices=["median", "none"],
        help="stop a trial whose validation metric is below the median of earlier trials at "
        "the same epoch (default: median)",
    )
    parser.add_argument(
        "--prune-warmup-epochs",
        type=int,
        default=1,
        metavar="N",
        help="epochs a trial always trains before it may be pruned (default: 1)",
    )
    parser.add_argument(
        "--sampler-seed", type=int, default=0, metavar="S", help="seed of the TPE sampler"
    )
    parser.add_argument("--config", help="JSON config file: the base (published-defaults) config")
    parser.add_argument(
        "--out", default=DEFAULT_TUNE_DIR, help=f"tuning directory (default: {DEFAULT_TUNE_DIR})"
    )
    add_launcher_flags(parser, runs="trials and reruns")
    parser.add_argument(
        "--report",
        action="store_true",
        help="only write and print the report of OUT from the runs already finished",
    )
    add_config_flags(parser)
    parser.set_defaults(func=run_tune_command)


def run_tune_command(args: argparse.Namespace) -> int:
    if args.report:
        from rest.report.tuning import write_tuning_report

        path, table = write_tuning_report(args.out)
        print(f"{table}\n\nreport: {path}")
        return 0
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise RestError("rest tune needs Optuna; pip install 'rest[tune]'") from None
    from rest.tune import TuneSettings, tune

    if args.trials < 1:
        raise RestError(f"--trials must be at least 1, got {args.trials}")
    launcher = launcher_from_args(args, args.out)
    base = config_from_args(args)
    for axis, dest, flag in (
        ("methods", "method", "--method"),
        ("densities", "sparse.density", "--density"),
    ):
        if getattr(args, axis) is not None and hasattr(args, dest):
            raise RestError(f"give either {flag} or --{axis}, not both")
    settings = TuneSettings(
        base=base.to_dict(),
        objective=args.objective,
        pruner=args.pruner,
        prune_warmup_epochs=args.prune_warmup_epochs,
        sampler_seed=args.sampler_seed,
    )
    result = tune(
        settings,
        args.out,
        methods=args.methods or [base.method],
        densities=args.densities or [base.sparse.density],
        n_trials=args.trials,
        seeds=args.seeds,
        launcher=launcher,
    )
    print(f"{result.table}\n\nreport: {result.report}; choices: {result.selected}")
    return 0
