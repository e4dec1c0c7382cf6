"""The study grid as the report sees it: planned runs, their cells and panels.

The study script (``benchmarks/study.py``) hands the report every planned run with
its directory; this module groups them into one panel per (dataset, conflict ratio)
and one cell per (row, method, density), reading the summaries of finished runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.report.collect import Group, SeedReadings
from rest.runs import read_json

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


def label(method: str, row: str) -> str:
    name = METHOD_LABELS.get(method, method)
    return name if row == "default" else f"{name} ({row})"


@dataclass
class Cell(SeedReadings):
    """The runs of one (row, method, density) in one (dataset, ratio), one per seed."""

    row: str
    method: str
    density: float
    planned: list[PlannedRun] = field(default_factory=list)
    finished: list[PlannedRun] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)

    def add_finished(self, run: PlannedRun, summary: dict[str, Any]) -> None:
        self.finished.append(run)
        self.summaries.append(summary)

    def selected_epochs(self) -> list[int | None]:
        """The epoch validation selected, per finished seed in seed order: an early one
        means the later epochs overfit, the last one that training had not converged."""
        ordered = sorted(
            zip(self.finished, self.summaries, strict=True), key=lambda item: item[0].seed
        )
        return [(summary.get("selected") or {}).get("epoch") for _run, summary in ordered]

    def missing_seeds(self) -> list[int]:
        done = {run.seed for run in self.finished}
        return sorted(run.seed for run in self.planned if run.seed not in done)

    def as_group(self, dataset: str, pct: float) -> Group:
        """For the shared plotting code, which keys colours and legends by ``method``."""
        return Group(dataset, pct, label(self.method, self.row), self.density, self.summaries)


Panel = dict[tuple[str, str, float], Cell]  # (row, method, density) -> cell


def read_panels(planned: Sequence[PlannedRun]) -> dict[tuple[str, float], Panel]:
    """Planned runs by (dataset, ratio), then (row, method, density), summaries read."""
    panels: dict[tuple[str, float], Panel] = defaultdict(dict)
    for run in planned:
        key = (run.row, run.method, run.density)
        panel = panels[run.dataset, run.conflict_pct]
        cell = panel.setdefault(key, Cell(*key))
        cell.planned.append(run)
        summary = run.summary()
        if summary is not None:
            cell.add_finished(run, summary)
    return panels


def cell_order(cell: Cell) -> tuple[int, int, float]:
    methods = list(METHOD_LABELS)
    rank = methods.index(cell.method) if cell.method in methods else len(methods)
    return ROWS.index(cell.row) if cell.row in ROWS else len(ROWS), rank, -cell.density
