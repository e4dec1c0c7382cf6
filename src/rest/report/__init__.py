"""The collector: every finished run under a directory, as tables and plots.

Runs are grouped by (dataset, conflict ratio, method, density) and each group is
reduced to mean and sample standard deviation over its seeds
(:mod:`rest.report.collect`). The report is one Markdown file with the tables
(:mod:`rest.report.tables`) and PNG plots (:mod:`rest.report.plots`) beside it:
accuracy against density per method (dense methods as reference lines), and the
per-group accuracy of every method as a heatmap of target against bias label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rest.errors import RestError
from rest.outputs import check_output_dir
from rest.report.collect import (
    METRICS,
    SPLIT,
    Collection,
    Group,
    Stat,
    collect,
    group_runs,
    pct_sort_key,
    run_density,
)
from rest.report.plots import (
    method_colors,
    panel_name,
    panel_title,
    plot_accuracy_vs_density,
    plot_group_heatmaps,
    representative_groups,
)
from rest.report.tables import mixed_settings_notes, pivot_table, results_table


@dataclass
class Report:
    """Where :func:`write_report` wrote, and the main table it printed into the report."""

    markdown: Path
    plots: list[Path]
    table: str
    groups: list[Group]
    collection: Collection


def write_report(
    runs_dir: str | Path, out: str | Path | None = None, heatmap_density: float | None = None
) -> Report:
    """Collect the runs under ``runs_dir`` and write ``report.md`` and ``plots/`` to ``out``
    (default ``runs_dir/report``)."""
    runs_dir = Path(runs_dir)
    if heatmap_density is not None and not 0 < heatmap_density <= 1:
        raise RestError(f"--heatmap-density must be in (0, 1], got {heatmap_density}")
    collection = collect(runs_dir)
    if not collection.summaries:
        raise RestError(
            f"no finished runs under {runs_dir} (no summary.json; "
            f"{len(collection.unfinished)} unfinished run(s))"
        )
    out = Path(out) if out is not None else runs_dir / "report"
    check_output_dir(out)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    groups = group_runs(collection.summaries)
    table = results_table(groups)
    colors = method_colors(g.method for g in groups)

    skipped = []
    if collection.unfinished:
        skipped.append(f"{len(collection.unfinished)} unfinished run(s) skipped")
    if collection.unreadable:
        skipped.append(f"{len(collection.unreadable)} unreadable or failed summary file(s) skipped")
    lines = [
        "# REST results",
        "",
        f"{len(collection.summaries)} finished run(s) from `{runs_dir}`"
        + (f" ({'; '.join(skipped)})" if skipped else "")
        + ".",
        "",
        f"Accuracies are {SPLIT} accuracies (%) at the epoch selected on validation: mean ± "
        "sample standard deviation over seeds, the mean alone for a single seed; `seeds` "
        "counts the runs averaged. Dense runs sit at density 1. Non-zero parameters, the "
        "inference FLOPs ratio (sparse / dense) and seconds per epoch are means.",
        "",
        "## All results",
        "",
        table,
        "",
    ]
    plots: list[Path] = []
    datasets = sorted({g.dataset for g in groups})
    for dataset in datasets:
        of_dataset = [g for g in groups if g.dataset == dataset]
        for metric in ("conflicting", "unbiased"):
            if all(g.metric(metric).mean is None for g in of_dataset):
                continue
            lines += [f"## {dataset}: {METRICS[metric]} accuracy by conflict ratio", ""]
            lines += [pivot_table(of_dataset, metric), ""]
        for pct in sorted({g.conflict_pct for g in of_dataset}, key=pct_sort_key):
            panel = [g for g in of_dataset if g.conflict_pct == pct]
            name = panel_name(dataset, pct)
            lines += [f"## {panel_title(dataset, pct)}", ""]
            for metric, label in METRICS.items():
                path = plot_dir / f"{name}-{metric}.png"
                if plot_accuracy_vs_density(panel, metric, colors, path):
                    plots.append(path)
                    lines += [f"![{label} accuracy vs density](plots/{path.name})", ""]
            path = plot_dir / f"{name}-groups.png"
            if plot_group_heatmaps(representative_groups(panel, heatmap_density), path):
                plots.append(path)
                lines += [f"![accuracy per group](plots/{path.name})", ""]
    notes = mixed_settings_notes(groups)
    notes += [f"unfinished: `{path}`" for path in collection.unfinished]
    notes += [f"skipped summary: `{path}`" for path in collection.unreadable]
    if notes:
        lines += ["## Notes", "", *(f"- {note}" for note in notes), ""]
    markdown = out / "report.md"
    markdown.write_text("\n".join(lines))
    return Report(markdown, plots, table, groups, collection)


__all__ = [
    "Collection",
    "Group",
    "Report",
    "Stat",
    "collect",
    "group_runs",
    "representative_groups",
    "run_density",
    "write_report",
]
