"""The study report: REST against the baselines over a fixed grid, every number traceable.

The study script (``benchmarks/study.py``) fixes the grid -- datasets, conflict
ratios, methods, densities, seeds, and two rows per method (published defaults,
tuned on validation) -- and hands the report every planned run with its directory.
This module reads what finished and writes ``report.md`` with:

* per dataset and conflict ratio, a table of test bias-conflicting, unbiased and
  worst-group accuracy (mean ± sample std over seeds, at the epoch selected on
  validation), non-zero parameters, inference and training FLOPs, and links to the
  copied ``config.json`` / ``summary.json`` of every run averaged;
* the command that runs that part of the grid beside its table;
* plots: bias-conflicting accuracy against density (dense baselines as bands) and
  against inference FLOPs (the Pareto view);
* a verdict table computed from the numbers: REST against dense reweighting
  (:func:`verdict`);
* a PARTIAL banner and the list of what is missing whenever the grid is incomplete.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.report.collect import Group, Stat
from rest.report.plots import method_colors, panel_name, panel_title, plot_accuracy_vs_density
from rest.runs import read_json
from rest.tables import human_count, markdown_table

METHOD_LABELS = {
    "erm": "ERM",
    "reweight": "dense reweighting",
    "sparse": "sparse-only",
    "rest": "REST",
    "jtt": "JTT",
    "groupdro": "GroupDRO",
    "lff": "LfF",
}
ROWS = ("default", "tuned")
ACCURACIES = {
    "conflicting": "bias-conflicting",
    "unbiased": "unbiased",
    "worst_group": "worst-group",
}
RUN_FILES = ("config.json", "summary.json")


@dataclass(frozen=True)
class PlannedRun:
    """One run of the grid: which cell it fills and where it trains."""

    row: str
    dataset: str
    conflict_pct: float
    method: str
    density: float
    seed: int
    path: Path

    def summary(self) -> dict[str, Any] | None:
        """The finished run's summary, or None while it has not finished."""
        path = self.path / "summary.json"
        if not path.is_file():
            return None
        try:
            summary = read_json(path)
        except RestError:
            return None
        if not isinstance(summary, dict) or summary.get("status", "done") != "done":
            return None
        return summary


@dataclass(frozen=True)
class SkippedPart:
    """A part of the grid the study did not plan, and why (e.g. no tuned config)."""

    row: str
    dataset: str
    conflict_pct: float
    method: str
    reason: str


def verdict(rest: Stat, reweight: Stat) -> str:
    """REST against dense reweighting on one metric: ``wins`` when the mean difference
    exceeds the larger of the two standard deviations, ``loses`` when it is below minus
    that, ``ties`` otherwise; ``too few seeds`` when either side lacks a standard
    deviation (fewer than two seeds) and ``not run`` when either side has no value."""
    if rest.mean is None or reweight.mean is None:
        return "not run"
    if rest.std is None or reweight.std is None:
        return "too few seeds"
    difference = rest.mean - reweight.mean
    tolerance = max(rest.std, reweight.std)
    if difference > tolerance:
        return "wins"
    if difference < -tolerance:
        return "loses"
    return "ties"


def label(method: str, row: str) -> str:
    name = METHOD_LABELS.get(method, method)
    return name if row == "default" else f"{name} ({row})"


@dataclass
class Cell:
    """The runs of one (row, method, density) in one (dataset, ratio), one per seed."""

    row: str
    method: str
    density: float
    planned: list[PlannedRun] = field(default_factory=list)
    finished: list[tuple[PlannedRun, dict[str, Any]]] = field(default_factory=list)

    @property
    def summaries(self) -> list[dict[str, Any]]:
        return [summary for _run, summary in self.finished]

    def metric(self, name: str) -> Stat:
        return Stat.of(
            ((s.get("selected") or {}).get("test") or {}).get(name) for s in self.summaries
        )

    def flops(self, kind: str) -> Stat:
        return Stat.of(
            ((s.get("flops") or {}).get(kind) or {}).get("sparse") for s in self.summaries
        )

    def nonzeros(self) -> Stat:
        return Stat.of((s.get("size") or {}).get("nonzeros") for s in self.summaries)

    def missing_seeds(self) -> list[int]:
        done = {run.seed for run, _summary in self.finished}
        return sorted(run.seed for run in self.planned if run.seed not in done)

    def as_group(self, dataset: str, pct: float) -> Group:
        """For the shared plotting code, which keys colours and legends by ``method``."""
        return Group(dataset, pct, label(self.method, self.row), self.density, self.summaries)


Panel = dict[tuple[str, str, float], Cell]  # (row, method, density) -> cell


def _panels(planned: Sequence[PlannedRun]) -> dict[tuple[str, float], Panel]:
    """Planned runs by (dataset, ratio), then (row, method, density), summaries read."""
    panels: dict[tuple[str, float], Panel] = defaultdict(dict)
    for run in planned:
        key = (run.row, run.method, run.density)
        panel = panels[run.dataset, run.conflict_pct]
        cell = panel.setdefault(key, Cell(*key))
        cell.planned.append(run)
        summary = run.summary()
        if summary is not None:
            cell.finished.append((run, summary))
    return panels


def _order(cell: Cell) -> tuple[int, int, float]:
    methods = list(METHOD_LABELS)
    rank = methods.index(cell.method) if cell.method in methods else len(methods)
    return ROWS.index(cell.row) if cell.row in ROWS else len(ROWS), rank, -cell.density


def _format_count(stat: Stat) -> str:
    return "-" if stat.mean is None else human_count(stat.mean)


def _copy_run_files(run: PlannedRun, out: Path) -> Path:
    """Copy the run's config and summary into the report folder; the relative link."""
    relative = Path("runs") / run.row / run.dataset / run.path.name
    (out / relative).mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        if (run.path / name).is_file():
            shutil.copyfile(run.path / name, out / relative / name)
    return relative


def _table(cells: Sequence[Cell], out: Path) -> str:
    rows = []
    for cell in cells:
        links = " ".join(
            f"[s{run.seed}]({_copy_run_files(run, out).as_posix()}/)"
            for run, _summary in sorted(cell.finished, key=lambda item: item[0].seed)
        )
        rows.append(
            [
                cell.row,
                METHOD_LABELS.get(cell.method, cell.method),
                f"{cell.density:g}",
                f"{len(cell.finished)}/{len(cell.planned)}",
                *(cell.metric(name).format() for name in ACCURACIES),
                _format_count(cell.nonzeros()),
                _format_count(cell.flops("inference")),
                _format_count(cell.flops("training")),
                links or "-",
            ]
        )
    headers = ["row", "method", "density", "seeds", *ACCURACIES.values()]
    headers += ["non-zero params", "inference FLOPs", "training FLOPs", "runs"]
    return markdown_table(headers, rows)


def plot_accuracy_vs_flops(
    cells: Sequence[Cell], title: str, colors: Mapping[str, Any], path: Path
) -> bool:
    """Test bias-conflicting accuracy against inference FLOPs (log axis), one point per
    (row, method, density) with ±std bars, and the Pareto front (no other point is both
    cheaper and more accurate) as a line. False (and no file) when nothing finished."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    points = []
    for cell in cells:
        accuracy, flops = cell.metric("conflicting"), cell.flops("inference")
        if accuracy.mean is not None and flops.mean is not None:
            points.append((flops.mean, 100 * accuracy.mean, 100 * (accuracy.std or 0.0), cell))
    if not points:
        return False
    figure = Figure(figsize=(6.4, 4.2), dpi=100)
    axes = figure.add_subplot()
    seen: set[str] = set()
    for flops, mean, error, cell in points:
        name = label(cell.method, cell.row)
        axes.errorbar(
            flops,
            mean,
            yerr=error,
            color=colors[name],
            marker="o" if cell.density < 1 else "s",
            capsize=3,
            label=None if name in seen else name,
        )
        seen.add(name)
    front = pareto_front([(flops, mean) for flops, mean, _error, _cell in points])
    axes.plot(
        *zip(*front, strict=True),
        color="black",
        linewidth=1,
        alpha=0.6,
        drawstyle="steps-post",
        label="Pareto front",
    )
    axes.set_xscale("log")
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("inference FLOPs per image (sparse model)")
    axes.set_ylabel("bias-conflicting test accuracy (%)")
    axes.set_title(title, fontsize="medium")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    return True


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (cost, accuracy) points no other point beats on both, cheapest first."""
    front: list[tuple[float, float]] = []
    for cost, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or accuracy > front[-1][1]:
            front.append((cost, accuracy))
    return front


@dataclass
class Verdict:
    dataset: str
    conflict_pct: float
    row: str
    density: float
    rest: Stat
    reweight: Stat
    outcome: str

    @property
    def difference(self) -> str:
        if self.rest.mean is None or self.reweight.mean is None:
            return "-"
        return f"{100 * (self.rest.mean - self.reweight.mean):+.1f}"


def verdicts(panels: Mapping[tuple[str, float], Panel]) -> list[Verdict]:
    """REST at every planned density against the same row's dense reweighting."""
    found = []
    for (dataset, pct), panel in sorted(panels.items()):
        for cell in sorted(panel.values(), key=_order):
            if cell.method != "rest":
                continue
            reweight = panel.get((cell.row, "reweight", 1.0))
            rest_stat = cell.metric("conflicting")
            reweight_stat = reweight.metric("conflicting") if reweight else Stat(None, None, 0)
            outcome = verdict(rest_stat, reweight_stat)
            found.append(
                Verdict(dataset, pct, cell.row, cell.density, rest_stat, reweight_stat, outcome)
            )
    return found


def _verdict_lines(found: Sequence[Verdict]) -> list[str]:
    found = [v for v in found if v.rest.mean is not None or v.reweight.mean is not None]
    rows = [
        [
            v.dataset,
            f"{v.conflict_pct:g}",
            v.row,
            f"{v.density:g}",
            v.rest.format(),
            v.reweight.format(),
            v.difference,
            v.outcome,
        ]
        for v in found
    ]
    headers = ["dataset", "conflict %", "row", "REST density", "REST", "dense reweighting"]
    headers += ["difference (points)", "verdict"]
    lines = [
        "## Verdict: REST against dense reweighting",
        "",
        "Test bias-conflicting accuracy (%). REST *wins* where its mean exceeds dense "
        "reweighting's by more than the larger of the two standard deviations, *loses* where "
        "it falls short by more than that, and *ties* otherwise; computed from the tables "
        "below, never written by hand. Densities where neither has run are left out.",
        "",
        markdown_table(headers, rows) if rows else "Nothing to compare yet.",
        "",
    ]
    by_part: dict[tuple[str, float, str], dict[str, list[str]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for v in found:
        by_part[v.dataset, v.conflict_pct, v.row][v.outcome].append(f"{v.density:g}")
    for (dataset, pct, row), outcomes in by_part.items():
        said = [f"{outcome} at density {', '.join(ds)}" for outcome, ds in outcomes.items()]
        lines.append(f"- {dataset}, {pct:g}%, {row}: REST {'; '.join(said)}.")
    return [*lines, ""] if by_part else lines


def _missing_lines(
    panels: Mapping[tuple[str, float], Panel], skipped: Sequence[SkippedPart]
) -> list[str]:
    lines = []
    for (dataset, pct), panel in sorted(panels.items()):
        cells = sorted(panel.values(), key=_order)
        missing = [
            f"{label(c.method, c.row)}"
            + (f" d={c.density:g}" if c.density < 1 else "")
            + f" (seeds {', '.join(map(str, c.missing_seeds()))})"
            for c in cells
            if c.missing_seeds()
        ]
        if missing:
            done = sum(len(c.finished) for c in cells)
            total = sum(len(c.planned) for c in cells)
            lines.append(
                f"- {dataset}, {pct:g}%: {done}/{total} runs; not finished: " + "; ".join(missing)
            )
    lines += [f"- {line}" for line in describe_skipped(skipped)]
    return lines


def describe_skipped(skipped: Sequence[SkippedPart]) -> list[str]:
    """One line per (row, reason, methods): the parts of the grid it leaves out."""
    methods_of: dict[tuple[str, str, str, float], list[str]] = defaultdict(list)
    for part in skipped:
        methods_of[part.row, part.reason, part.dataset, part.conflict_pct].append(part.method)
    parts_of: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (row, reason, dataset, pct), methods in methods_of.items():
        parts_of[row, reason, tuple(methods)].append(f"{dataset} {pct:g}%")
    return [
        f"{row} row of {', '.join(label(m, 'default') for m in methods)} not planned on "
        f"{', '.join(parts)}: {reason}"
        for (row, reason, methods), parts in parts_of.items()
    ]


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
    panels = _panels(planned)
    missing = _missing_lines(panels, skipped)
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
    lines += _verdict_lines(found)
    plots = []
    colors = method_colors(label(c.method, c.row) for p in panels.values() for c in p.values())
    for (dataset, pct), panel in sorted(panels.items()):
        cells = sorted(panel.values(), key=_order)
        title = panel_title(dataset, pct)
        lines += [f"## {title}", "", f"Run: `{command_for(dataset, pct)}`", ""]
        if not any(c.finished for c in cells):
            lines += ["Not run yet.", ""]
            continue
        lines += [_table(cells, out), ""]
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
