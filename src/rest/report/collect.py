"""Collect finished runs and reduce each (dataset, ratio, method, density) group over seeds.

Uses the test metrics of the epoch selected on validation (never the best test
epoch). A method counts as dense in a run when no sparse training happened (its
summary has no ``sparse`` stats), so a dense run sits at density 1 whatever the
config's unused density field says.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.runs import read_json

# summary metric key -> column / axis label
METRICS = {
    "conflicting": "bias-conflicting",
    "unbiased": "unbiased",
    "worst_group": "worst-group",
    "accuracy": "average",
}
SPLIT = "test"


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (None below two values) of the values present."""

    mean: float | None
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Stat:
        present = [float(v) for v in values if v is not None]
        if not present:
            return cls(None, None, 0)
        std = statistics.stdev(present) if len(present) > 1 else None
        return cls(statistics.fmean(present), std, len(present))

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``52.1 ± 1.3``; the mean alone for one value; ``-`` for none."""
        if self.mean is None:
            return "-"
        text = f"{self.mean * scale:.{digits}f}"
        if self.std is not None:
            text += f" ± {self.std * scale:.{digits}f}"
        return text


def run_density(summary: dict[str, Any]) -> float:
    """The density the run trained at: 1 when it trained no masks."""
    return float(summary["density"]) if summary.get("sparse") else 1.0


def test_metrics(summary: dict[str, Any], epoch: str = "selected") -> dict[str, Any]:
    """The test metrics a summary records at the validation-selected (or ``last``) epoch."""
    return (summary.get(epoch) or {}).get(SPLIT) or {}


class SeedReadings:
    """What a report reads from the runs of one configuration, one summary per seed.

    Shared by the sweep report's :class:`Group` and the study's cells, so both read
    a summary's fields the same way.
    """

    summaries: list[dict[str, Any]]

    def metric(self, name: str, epoch: str = "selected") -> Stat:
        """A test metric at the epoch validation selected, or at ``epoch="last"``: the gap
        between the two shows how much the selection saved from later overfitting."""
        return Stat.of(test_metrics(s, epoch).get(name) for s in self.summaries)

    def nonzeros(self) -> Stat:
        return Stat.of((s.get("size") or {}).get("nonzeros") for s in self.summaries)

    def flops(self, kind: str, value: str = "sparse") -> Stat:
        """``kind`` is inference (per image) or training (per run); ``value`` is the sparse
        model's count or its ``ratio`` to the dense model's."""
        return Stat.of(((s.get("flops") or {}).get(kind) or {}).get(value) for s in self.summaries)

    def seconds_per_epoch(self) -> Stat:
        """Wall seconds of one training epoch: the machine's load moves it, so it tells
        the cost of a run on the hardware it ran on, not a method's speed."""
        return Stat.of((s.get("time") or {}).get("seconds_per_epoch") for s in self.summaries)


@dataclass
class Group(SeedReadings):
    """The runs of one (dataset, conflict ratio, method, density), one per seed."""

    dataset: str
    conflict_pct: float | None
    method: str
    density: float
    summaries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seeds(self) -> list[Any]:
        return sorted(s.get("seed") for s in self.summaries)

    def group_accuracy(self) -> dict[tuple[int, int], float]:
        """Mean over seeds of each ``(y, b)`` group's accuracy."""
        values: dict[tuple[int, int], list[float]] = defaultdict(list)
        for summary in self.summaries:
            for key, accuracy in (test_metrics(summary).get("groups") or {}).items():
                y, b = (int(part) for part in key.split(","))
                values[y, b].append(float(accuracy))
        return {key: statistics.fmean(accs) for key, accs in values.items()}


@dataclass
class Collection:
    """What :func:`collect` found under a runs directory."""

    summaries: list[dict[str, Any]]
    unfinished: list[Path]
    unreadable: list[Path]


def collect(runs_dir: str | Path) -> Collection:
    """Every ``summary.json`` under ``runs_dir``, plus the runs that have not finished."""
    runs_dir = Path(runs_dir)
    if runs_dir.is_file():
        raise RestError(f"{runs_dir} is a file; give the directory that holds the runs")
    if not runs_dir.is_dir():
        raise RestError(f"runs directory {runs_dir} does not exist")
    summaries, unreadable = [], []
    for path in sorted(runs_dir.rglob("summary.json")):
        try:
            summary = read_json(path)
        except RestError:
            unreadable.append(path)
            continue
        if _usable(summary):
            summaries.append(summary)
        else:
            unreadable.append(path)
    unfinished = [
        path.parent
        for path in sorted(runs_dir.rglob("config.json"))
        if not (path.parent / "summary.json").exists()
    ]
    return Collection(summaries, unfinished, unreadable)


# Where the report reads a number (or nothing) in a summary.
_NUMBER_PATHS = [
    ("density",),
    ("seed",),
    ("conflict_pct",),
    ("size", "nonzeros"),
    ("flops", "inference", "ratio"),
    ("time", "seconds_per_epoch"),
    *(("selected", SPLIT, name) for name in METRICS),
]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _lookup(summary: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    """(True, value) where the path leads through objects (value None when absent);
    (False, None) where something on the way is not an object."""
    value: Any = summary
    for key in path:
        if value is None:
            return True, None
        if not isinstance(value, dict):
            return False, None
        value = value.get(key)
    return True, value


def _usable(summary: Any) -> bool:
    """A finished run's summary whose fields the report reads have the expected types,
    so a hand-edited or foreign summary.json is skipped instead of stopping the report."""
    if not isinstance(summary, dict) or summary.get("status", "done") != "done":
        return False
    if not all(isinstance(summary.get(key), str) for key in ("method", "dataset")):
        return False
    if not _is_number(summary.get("density")) or not _is_number(summary.get("seed")):
        return False
    for path in _NUMBER_PATHS:
        ok, value = _lookup(summary, path)
        if not ok or not (value is None or _is_number(value)):
            return False
    ok, groups = _lookup(summary, ("selected", SPLIT, "groups"))
    if not ok or not (groups is None or isinstance(groups, dict)):
        return False
    for key, accuracy in (groups or {}).items():
        parts = key.split(",")
        if len(parts) != 2 or not all(p.strip().lstrip("-").isdigit() for p in parts):
            return False
        if not _is_number(accuracy):
            return False
    return all(
        summary.get(key) is None or isinstance(summary[key], dict) for key in ("config", "sparse")
    )


def pct_sort_key(pct: float | None) -> tuple[bool, float]:
    return pct is None, pct or 0.0


def group_runs(summaries: Iterable[dict[str, Any]]) -> list[Group]:
    """Groups sorted by dataset, conflict ratio, method, then density from dense to sparse."""
    groups: dict[tuple[Any, ...], Group] = {}
    for summary in summaries:
        key = (
            str(summary["dataset"]),
            summary.get("conflict_pct"),
            str(summary["method"]),
            run_density(summary),
        )
        groups.setdefault(key, Group(*key)).summaries.append(summary)
    return sorted(
        groups.values(),
        key=lambda g: (g.dataset, pct_sort_key(g.conflict_pct), g.method, -g.density),
    )
