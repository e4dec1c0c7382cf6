"""The study report: REST against the baselines over a fixed grid, every number traceable.

The study script (``benchmarks/study.py``) fixes the grid -- datasets, conflict
ratios, methods, densities, seeds, and two rows per method (published defaults,
tuned on validation) -- and hands the report every planned run with its directory
(:mod:`rest.report.study_grid`). This module reads what finished and writes
``report.md`` with:

* a verdict table computed from the numbers: REST against dense reweighting
  (:mod:`rest.report.study_tables`);
* per dataset and conflict ratio, a table of test bias-conflicting, unbiased and
  worst-group accuracy (mean ± sample std over seeds, at the epoch selected on
  validation), non-zero parameters, inference and training FLOPs, and links to the
  copied ``config.json`` / ``summary.json`` of every run averaged;
* the command that runs that part of the grid beside its table;
* plots: bias-conflicting accuracy against density (dense baselines as bands) and
  against inference FLOPs (the Pareto view, :mod:`rest.report.study_plots`);
* a PARTIAL banner and the list of what is missing whenever the grid is incomplete.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rest.errors import RestError
from rest.report.plots import method_colors, panel_name, panel_title, plot_accuracy_vs_density
from rest.report.study_grid import PlannedRun, SkippedPart, cell_order, label, read_panels
from rest.report.study_plots import plot_accuracy_vs_flops
from rest.report.study_tables import Verdict, missing_lines, results_table, verdict_lines, verdicts


@dataclass
class StudyReport:
    markdown: Path
    plots: list[Path]
    partial: bool
    verdicts: list[Verdict]


def write_study_report(
    planned: Sequence[PlannedRun],
    skipped: Sequence[SkippedPart],
    out: str | Path,
    *,
    header: Sequence[str],
    command_for: Callable[[str, float], str],
) -> StudyReport:
    """Write ``report.md``, ``plots/`` and the copied run files of the study to ``out``.

    ``header`` opens the report (title, budget, machine); ``command_for(dataset, pct)``
    is the command that runs that part of the grid, shown beside its table.
    """
    if not planned and not skipped:
        raise RestError("the study plan is empty: select at least one dataset, ratio and method")
    out = Path(out)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    panels = read_panels(planned)
    missing = missing_lines(panels, skipped)
    finished = sum(len(c.finished) for panel in panels.values() for c in panel.values())
    lines = list(header)
    if missing:
        lines += [
            f"**PARTIAL**: {finished} of {len(planned)} planned runs finished; "
            "the grid is incomplete (see *Not run yet* at the end).",
            "",
        ]
    else:
        lines += [f"Complete: all {len(planned)} planned runs finished.", ""]
    found = verdicts(panels)
    lines += verdict_lines(found)
    plots = []
    colors = method_colors(label(c.method, c.row) for p in panels.values() for c in p.values())
    for (dataset, pct), panel in sorted(panels.items()):
        cells = sorted(panel.values(), key=cell_order)
        title = panel_title(dataset, pct)
        lines += [f"## {title}", "", f"Run: `{command_for(dataset, pct)}`", ""]
        if not any(c.finished for c in cells):
            lines += ["Not run yet.", ""]
            continue
        lines += [results_table(cells, out), ""]
        name = panel_name(dataset, pct)
        groups = [c.as_group(dataset, pct) for c in cells if c.finished]
        density_plot = plot_dir / f"{name}-conflicting-vs-density.png"
        if groups and plot_accuracy_vs_density(groups, "conflicting", colors, density_plot):
            plots.append(density_plot)
            lines += [f"![bias-conflicting accuracy vs density](plots/{density_plot.name})", ""]
        flops_plot = plot_dir / f"{name}-conflicting-vs-flops.png"
        if plot_accuracy_vs_flops(cells, title, colors, flops_plot):
            plots.append(flops_plot)
            lines += [
                f"![bias-conflicting accuracy vs inference FLOPs](plots/{flops_plot.name})",
                "",
            ]
    if missing:
        lines += ["## Not run yet", "", *missing, ""]
    markdown = out / "report.md"
    markdown.write_text("\n".join(lines))
    return StudyReport(markdown, plots, bool(missing), found)
