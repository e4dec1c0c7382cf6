"""Markdown tables of collected runs: all results, and pivots by conflict ratio."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rest.report.collect import METRICS, Group, pct_sort_key
from rest.runs import RUNTIME_FIELDS
from rest.tables import flatten, human_count, markdown_table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


TABLE_HEADERS = [
    *(f"{label}" for label in METRICS.values()),
    "non-zero params",
    "FLOPs ratio",
    "s/epoch",
]


def results_table(groups: Sequence[Group]) -> str:
    """One row per group: accuracies (%), size and cost."""
    rows = []
    for group in groups:
        params = group.nonzeros().mean
        ratio = group.flops("inference", "ratio").mean
        seconds = group.seconds_per_epoch().mean
        rows.append(
            [
                group.dataset,
                _pct(group.conflict_pct),
                group.method,
                f"{group.density:g}",
                len(group.summaries),
                *(group.metric(name).format() for name in METRICS),
                "-" if params is None else human_count(params),
                "-" if ratio is None else f"{ratio:.3f}",
                "-" if seconds is None else f"{seconds:.1f}",
            ]
        )
    headers = ["dataset", "conflict %", "method", "density", "seeds", *TABLE_HEADERS]
    return markdown_table(headers, rows)


def pivot_table(groups: Sequence[Group], metric: str) -> str:
    """One dataset's ``metric`` with a row per (method, density) and a column per ratio,
    the layout of the published tables."""
    pcts = sorted({g.conflict_pct for g in groups}, key=pct_sort_key)
    cells: dict[tuple[str, float], dict[float | None, str]] = defaultdict(dict)
    for group in groups:
        cells[group.method, group.density][group.conflict_pct] = group.metric(metric).format()
    rows = [
        [method, f"{density:g}", *(by_pct.get(pct, "") for pct in pcts)]
        for (method, density), by_pct in sorted(cells.items(), key=lambda i: (i[0][0], -i[0][1]))
    ]
    return markdown_table(["method", "density", *(f"{_pct(p)}%" for p in pcts)], rows)


def mixed_settings_notes(groups: Sequence[Group]) -> list[str]:
    """A note for every group holding two runs of one seed, i.e. runs that differ in
    some other setting yet are averaged together, naming the settings that differ."""
    ignored = {"run.seed", *(f"{section}.{name}" for section, name in RUNTIME_FIELDS)}
    notes = []
    for group in groups:
        seeds = group.seeds
        if len(seeds) == len(set(seeds)):
            continue
        configs = [flatten(s.get("config") or {}) for s in group.summaries]
        keys = sorted({key for config in configs for key in config} - ignored)
        differing = [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]
        notes.append(
            f"{group.method} on {group.dataset} ({_pct(group.conflict_pct)}% conflicting, "
            f"density {group.density:g}) averages {len(seeds)} runs over {len(set(seeds))} "
            f"seed(s); they differ in: {', '.join(differing) or 'nothing recorded'}"
        )
    return notes
