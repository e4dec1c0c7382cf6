"""``rest report``: tables and plots of every finished run under a directory."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="tables and plots (mean ± std over seeds) of the runs under a directory",
        description="Collect every summary.json under RUNS_DIR, group the runs by dataset, "
        "conflict ratio, method and density, and write report.md (test metrics at the epoch "
        "selected on validation, mean ± sample std over seeds) with PNG plots beside it.",
    )
    parser.add_argument("runs_dir", metavar="RUNS_DIR", help="directory searched for runs")
    parser.add_argument("--out", help="where report.md and plots/ go (default: RUNS_DIR/report)")
    parser.add_argument(
        "--heatmap-density",
        type=float,
        metavar="D",
        help="density at which the per-group heatmaps compare the sparse methods "
        "(default: the sparsest trained)",
    )
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from rest.report import write_report

    report = write_report(args.runs_dir, args.out, args.heatmap_density)
    print(report.table)
    collection = report.collection
    skipped = len(collection.unfinished) + len(collection.unreadable)
    print(
        f"\n{len(collection.summaries)} runs in {len(report.groups)} groups"
        + (f" ({skipped} unfinished or unreadable skipped)" if skipped else "")
        + f"; report: {report.markdown} with {len(report.plots)} plots"
    )
    return 0
