"""The study of issue 12: does REST keep its promise at full data scale?

The protocol is fixed before any run (``study_protocol.py``; see
benchmarks/results/study/README.md):

* data: ``cfmnist`` and ``corrupted`` (Fashion-MNIST source) at 0.5, 1, 2 and 5%
  bias-conflicting, built-in ``cmnist`` at 1% as the small-data contrast;
* methods: ERM, dense reweighting, sparse-only (density 0.1), REST at densities
  0.5, 0.2, 0.1, 0.05, 0.01, 0.005, JTT, GroupDRO, LfF; seeds 41, 42, 43;
* two rows per method: ``default`` (the published defaults, i.e. ``rest``'s
  defaults) and ``tuned`` (hyperparameters chosen on validation by ``rest tune``,
  one choice per (dataset, ratio, method, density) with ``--trials`` trials each:
  ``--tune`` searches them into ``RUNS/tune`` first, see ``study_tuning.py``; a part
  with no choice is listed as not run);
* budgets: ``gpu`` (100 epochs, as published), ``cpu`` (20 epochs at full data
  size), ``smoke`` (1 epoch of a width-8 network, for tests).

``--datasets``, ``--pcts``, ``--methods``, ``--densities``, ``--seeds`` and ``--rows``
pick a part of the grid (values outside the protocol are refused); the sweeps
resume, so the grid runs in parts and a killed part continues where it stopped.
Every run lands in ``--runs`` (``ROW/DATASET/RUN``), one folder to copy back from a
GPU slot; ``--report-only`` rebuilds the report from it, marked PARTIAL while runs
are missing::

    python benchmarks/study.py --budget cpu --datasets cfmnist --pcts 1 5 --workers 2
    python benchmarks/study.py --budget gpu --device cuda --workers 8
    python benchmarks/study.py --budget cpu --report-only
    python benchmarks/study.py --budget gpu --device cuda --workers 8 --tune --rows tuned
    python benchmarks/study.py --budget cpu --measure --datasets cfmnist corrupted --methods rest
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.report.study import write_study_report
from rest.report.study_tables import describe_skipped
from rest.sweep import run_sweep
from study_cost import measure, write_cost
from study_protocol import (
    BUDGETS,
    DATASETS,
    METHOD_ORDER,
    ROWS,
    SEEDS,
    TUNE_FOLDER,
    Budget,
    Selection,
    plan_blocks,
    planned_runs,
)
from study_tuning import DEFAULT_TRIALS, run_tuning, trial_budget, tuning_pairs


def part_command(budget: str, dataset: str, pct: float, extra: str) -> str:
    return (
        f"python benchmarks/study.py --budget {budget} --datasets {dataset} --pcts {pct:g}{extra}"
    )


def header(budget: Budget, runs_root: Path, source: str | None, info: dict[str, Any]) -> list[str]:
    return [
        f"# The study: REST against the baselines, budget `{budget.name}`",
        "",
        f"- budget: {budget.description}; every number below comes from this budget",
        "- settings of the default row: `rest train`'s published defaults (batch 256, SGD momentum "
        "0.9, lr 0.01 for the CNN / 0.001 for ResNet-18, reduce-on-plateau, weighted sampler "
        "with lambda_up 10/30/50/80 for 0.5/1/2/5%, ERK RigL with ~30 mask updates per run); "
        "the tuned row: the hyperparameters `rest tune` chose on validation for each (dataset, "
        "ratio, method, density), the same number of trials each (each run's config.json)",
        f"- data source: {source or 'each dataset default (Fashion-MNIST, built-in MNIST digits)'}",
        f"- runs: `{runs_root}`; each run's `config.json` and `summary.json` are copied under "
        "`runs/` here and linked from the tables; `rest train --config runs/.../config.json` "
        "reruns one",
        "- accuracies: test split, at the epoch selected on validation (worst-group), mean ± "
        "sample std over seeds; FLOPs per image (inference) and per run (training) of the "
        "sparse model, means over seeds; the selected epochs in seed order, and the test "
        "bias-conflicting accuracy at the last epoch, which shows what the selection saved; "
        "wall seconds per training epoch as measured, which the machine's other work moves",
        *(f"- {key}: {value}" for key, value in info.items()),
        "",
    ]


def _floats(values: Sequence[str] | None) -> tuple[float, ...] | None:
    if values is None:
        return None
    try:
        return tuple(float(v) for v in values)
    except ValueError as error:
        raise RestError(f"not a number: {error}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    parser.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), help="default: " + " ".join(DATASETS)
    )
    parser.add_argument("--pcts", nargs="+", help="conflict ratios (default: each dataset's)")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(METHOD_ORDER),
        help="default: " + " ".join(METHOD_ORDER),
    )
    parser.add_argument("--densities", nargs="+", help="REST densities (default: all six)")
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=list(SEEDS), help="default: 41 42 43"
    )
    parser.add_argument("--rows", nargs="+", default=list(ROWS), help="default and/or tuned")
    parser.add_argument(
        "--tune",
        action="store_true",
        help="first search the tuned row's hyperparameters of the selected part with rest tune "
        "(resumes; then trains the selected rows as usual)",
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=DEFAULT_TRIALS,
        help=f"--tune: trials per (method, density) study (default {DEFAULT_TRIALS})",
    )
    parser.add_argument(
        "--tune-epochs", type=int, help="--tune: epochs of each trial (default: the budget's)"
    )
    parser.add_argument(
        "--tuned", help="folder of the rest tune directories of the tuned row (default RUNS/tune)"
    )
    parser.add_argument("--source", help="image source for every selected dataset (rest --source)")
    parser.add_argument("--runs", help="runs directory (default benchmarks/runs/study-BUDGET)")
    parser.add_argument(
        "--results",
        help="report directory (default benchmarks/results/study/BUDGET; for --measure and "
        "--estimate, where cost.md goes: default benchmarks/results/study)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at once (per GPU)")
    parser.add_argument("--dry-run", action="store_true", help="count the planned runs and stop")
    parser.add_argument(
        "--report-only", action="store_true", help="train nothing, write the report"
    )
    parser.add_argument("--measure", action="store_true", help="1-epoch runs to time the grid")
    parser.add_argument("--estimate", action="store_true", help="CPU-hours from --measure runs")
    parser.add_argument(
        "--measure-dir", default="benchmarks/runs/study-measure", help="where --measure trains"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return _main(args, list(sys.argv if argv is None else ["benchmarks/study.py", *argv]))
    except RestError as error:
        print(f"study: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("study: interrupted; the same command continues where it stopped", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace, argv: list[str]) -> int:
    budget = BUDGETS[args.budget]
    selection = Selection(
        tuple(args.datasets),
        _floats(args.pcts),
        tuple(args.methods),
        _floats(args.densities),
        tuple(args.seeds),
        tuple(args.rows),
    )
    if args.measure:
        measure(args, budget, selection)
    if args.measure or args.estimate:
        write_cost(args, budget, argv)
        return 0
    runs_root = Path(args.runs or f"benchmarks/runs/study-{budget.name}")
    tune_root = Path(args.tuned) if args.tuned else runs_root / TUNE_FOLDER
    if args.tuned and not args.tune and not tune_root.exists():
        raise RestError(
            f"--tuned {tune_root} does not exist; give the folder of the rest tune directories, "
            "or add --tune to search into it"
        )
    if args.tune and args.report_only:
        raise RestError("--tune trains (its searches); drop it, or --report-only")
    if args.tune and args.dry_run:
        cells = sum(len(selection.pcts_of(dataset)) for dataset in selection.datasets)
        studies = len(tuning_pairs(selection))
        print(
            f"tune: {cells} part(s) x {studies} studies x {args.trials} trials = at most "
            f"{cells * studies * args.trials} trial runs, into {tune_root}"
        )
    untuned: list[str] = []
    if args.tune and not args.dry_run:
        directories, untuned = run_tuning(
            budget,
            selection,
            tune_root,
            args.trials,
            args.tune_epochs,
            args.source,
            args.device,
            args.workers,
        )
        tally = ", ".join(f"{n} {state}" for state, n in trial_budget(directories).items())
        print(f"tuned {len(directories)} part(s) of the grid: trials {tally}")
    blocks, skipped = plan_blocks(budget, selection, runs_root, tune_root, args.source, args.device)
    planned = planned_runs(blocks)
    if args.dry_run:
        counts: dict[tuple[str, str, str], int] = {}
        for run in planned:
            key = (run.row, run.dataset, run.method)
            counts[key] = counts.get(key, 0) + 1
        for (row, dataset, method), count in counts.items():
            print(f"{row} {dataset} {method}: {count} runs")
        for line in describe_skipped(skipped):
            print(f"not planned: {line}")
        print(f"{len(planned)} runs planned")
        return 0
    failed, busy = 0, []
    if not args.report_only:
        for block in blocks:
            results = run_sweep(block.base, **block.sweep_args(), workers=args.workers)
            failed += sum(result.status == "failed" for result in results)
            busy += [result for result in results if result.status == "busy"]
    # the report covers the whole protocol at this budget, so a part shows as PARTIAL
    all_blocks, all_skipped = plan_blocks(budget, Selection(), runs_root, tune_root, args.source)
    extra = "".join(
        f" --{name} {shlex.quote(str(value))}"
        for name, value in (("source", args.source), ("tuned", args.tuned))
        if value
    )
    info = {"command of this report": " ".join(shlex.quote(a) for a in argv)}
    report = write_study_report(
        planned_runs(all_blocks),
        all_skipped,
        Path(args.results or f"benchmarks/results/study/{budget.name}"),
        header=header(budget, runs_root, args.source, info),
        command_for=lambda dataset, pct: part_command(budget.name, dataset, pct, extra),
    )
    print(f"report: {report.markdown}{' (PARTIAL)' if report.partial else ''}")
    for result in busy:  # another process holds the run: it is in progress, not done
        print(f"busy: {result.error}", file=sys.stderr)
    if busy:
        print(
            f"{len(busy)} run(s) busy in another process, not trained here; the report counts "
            "them once they finish",
            file=sys.stderr,
        )
    if failed:
        print(f"{failed} run(s) failed; see {runs_root}/*/*/failures.jsonl", file=sys.stderr)
    if untuned:
        print(
            f"not fully tuned: {', '.join(untuned)} (see above); the same command with a "
            "larger --trials continues those searches",
            file=sys.stderr,
        )
    return 1 if failed or busy or untuned else 0


if __name__ == "__main__":
    raise SystemExit(main())
