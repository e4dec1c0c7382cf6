"""The study report's tables: results per panel, verdicts, and what is missing.

Every number comes from the run summaries (:mod:`rest.report.study_grid`); the
verdict of REST against dense reweighting is computed (:func:`verdict`), never
written by hand, and the missing-run lines drive the report's PARTIAL banner.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rest.report.collect import Stat
from rest.report.study_grid import (
    ACCURACIES,
    METHOD_LABELS,
    Cell,
    Panel,
    PlannedRun,
    SkippedPart,
    cell_order,
    label,
)
from rest.tables import human_count, markdown_table

RUN_FILES = ("config.json", "summary.json")


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


def results_table(cells: Sequence[Cell], out: Path) -> str:
    rows = []
    for cell in cells:
        links = " ".join(
            f"[s{run.seed}]({_copy_run_files(run, out).as_posix()}/)"
            for run in sorted(cell.finished, key=lambda run: run.seed)
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
                ", ".join("-" if e is None else str(e) for e in cell.selected_epochs()) or "-",
                cell.metric("conflicting", epoch="last").format(),
                cell.seconds_per_epoch().format(scale=1.0, digits=0),
                links or "-",
            ]
        )
    headers = ["row", "method", "density", "seeds", *ACCURACIES.values()]
    headers += ["non-zero params", "inference FLOPs", "training FLOPs"]
    headers += ["selected epochs", "bias-conflicting at last epoch", "train s/epoch", "runs"]
    return markdown_table(headers, rows)


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
        for cell in sorted(panel.values(), key=cell_order):
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


def verdict_lines(found: Sequence[Verdict]) -> list[str]:
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


def missing_lines(
    panels: Mapping[tuple[str, float], Panel], skipped: Sequence[SkippedPart]
) -> list[str]:
    lines = []
    for (dataset, pct), panel in sorted(panels.items()):
        cells = sorted(panel.values(), key=cell_order)
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
        methods = methods_of[part.row, part.reason, part.dataset, part.conflict_pct]
        if part.method not in methods:  # REST's densities share a reason
            methods.append(part.method)
    parts_of: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (row, reason, dataset, pct), methods in methods_of.items():
        parts_of[row, reason, tuple(methods)].append(f"{dataset} {pct:g}%")
    return [
        f"{row} row of {', '.join(label(m, 'default') for m in methods)} not planned on "
        f"{', '.join(parts)}: {reason}"
        for (row, reason, methods), parts in parts_of.items()
    ]
