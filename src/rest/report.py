"""The collector: every finished run under a directory, as tables and plots.

Runs are grouped by (dataset, conflict ratio, method, density) and each group is
reduced to mean and sample standard deviation over its seeds, using the test
metrics of the epoch selected on validation (never the best test epoch). The
report is one Markdown file with the tables and PNG plots beside it:
accuracy against density per method (dense methods as reference lines), and the
per-group accuracy of every method as a heatmap of target against bias label.

A method counts as dense in a run when no sparse training happened (its summary
has no ``sparse`` stats), so a dense run sits at density 1 whatever the config's
unused density field says.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.runs import RUNTIME_FIELDS, read_json
from rest.tables import human_count, markdown_table

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


@dataclass
class Group:
    """The runs of one (dataset, conflict ratio, method, density), one per seed."""

    dataset: str
    conflict_pct: float | None
    method: str
    density: float
    summaries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seeds(self) -> list[Any]:
        return sorted(s.get("seed") for s in self.summaries)

    def _test(self, summary: dict[str, Any]) -> dict[str, Any]:
        return (summary.get("selected") or {}).get(SPLIT) or {}

    def metric(self, name: str) -> Stat:
        return Stat.of(self._test(s).get(name) for s in self.summaries)

    def nonzero_params(self) -> Stat:
        return Stat.of((s.get("size") or {}).get("nonzeros") for s in self.summaries)

    def flops_ratio(self) -> Stat:
        return Stat.of(
            ((s.get("flops") or {}).get("inference") or {}).get("ratio") for s in self.summaries
        )

    def seconds_per_epoch(self) -> Stat:
        return Stat.of((s.get("time") or {}).get("seconds_per_epoch") for s in self.summaries)

    def group_accuracy(self) -> dict[tuple[int, int], float]:
        """Mean over seeds of each ``(y, b)`` group's accuracy."""
        values: dict[tuple[int, int], list[float]] = defaultdict(list)
        for summary in self.summaries:
            for key, accuracy in (self._test(summary).get("groups") or {}).items():
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
    if not runs_dir.is_dir():
        raise RestError(f"runs directory {runs_dir} does not exist")
    summaries, unreadable = [], []
    for path in sorted(runs_dir.rglob("summary.json")):
        try:
            summary = read_json(path)
        except RestError:
            unreadable.append(path)
            continue
        usable = isinstance(summary, dict) and {"method", "dataset", "density"} <= set(summary)
        if usable and summary.get("status", "done") == "done":
            summaries.append(summary)
        else:
            unreadable.append(path)
    unfinished = [
        path.parent
        for path in sorted(runs_dir.rglob("config.json"))
        if not (path.parent / "summary.json").exists()
    ]
    return Collection(summaries, unfinished, unreadable)


def _sort_key(pct: float | None) -> tuple[bool, float]:
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
        key=lambda g: (g.dataset, _sort_key(g.conflict_pct), g.method, -g.density),
    )


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
        params = group.nonzero_params().mean
        ratio = group.flops_ratio().mean
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
    pcts = sorted({g.conflict_pct for g in groups}, key=_sort_key)
    cells: dict[tuple[str, float], dict[float | None, str]] = defaultdict(dict)
    for group in groups:
        cells[group.method, group.density][group.conflict_pct] = group.metric(metric).format()
    rows = [
        [method, f"{density:g}", *(by_pct.get(pct, "") for pct in pcts)]
        for (method, density), by_pct in sorted(cells.items(), key=lambda i: (i[0][0], -i[0][1]))
    ]
    return markdown_table(["method", "density", *(f"{_pct(p)}%" for p in pcts)], rows)


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def mixed_settings_notes(groups: Sequence[Group]) -> list[str]:
    """A note for every group holding two runs of one seed, i.e. runs that differ in
    some other setting yet are averaged together, naming the settings that differ."""
    ignored = {"run.seed", *(f"{section}.{name}" for section, name in RUNTIME_FIELDS)}
    notes = []
    for group in groups:
        seeds = group.seeds
        if len(seeds) == len(set(seeds)):
            continue
        configs = [_flatten(s.get("config") or {}) for s in group.summaries]
        keys = sorted({key for config in configs for key in config} - ignored)
        differing = [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]
        notes.append(
            f"{group.method} on {group.dataset} ({_pct(group.conflict_pct)}% conflicting, "
            f"density {group.density:g}) averages {len(seeds)} runs over {len(set(seeds))} "
            f"seed(s); they differ in: {', '.join(differing) or 'nothing recorded'}"
        )
    return notes


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", Path(text).name or text).strip("-") or "data"


def _panel_name(dataset: str, pct: float | None) -> str:
    return f"{_slug(dataset)}-{'all' if pct is None else f'{pct:g}pct'}"


def _title(dataset: str, pct: float | None) -> str:
    return dataset if pct is None else f"{dataset}, {pct:g}% bias-conflicting"


def _method_colors(methods: Iterable[str]) -> dict[str, Any]:
    """One colour per method, the same in every figure."""
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {method: palette(i % 10) for i, method in enumerate(sorted(set(methods)))}


def plot_accuracy_vs_density(
    groups: Sequence[Group], metric: str, colors: dict[str, Any], path: Path
) -> bool:
    """Accuracy against density (log axis) for the groups of one (dataset, ratio): a line
    with error bars per sparse method, a dashed line with a ±std band per dense one.
    False (and no file) when no group has the metric."""
    from matplotlib.figure import Figure

    by_method: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for group in groups:
        stat = group.metric(metric)
        if stat.mean is not None:
            point = (group.density, 100 * stat.mean, 100 * (stat.std or 0.0))
            by_method[group.method].append(point)
    if not by_method:
        return False
    figure = Figure(figsize=(6.4, 4.2), dpi=100)
    axes = figure.add_subplot()
    densities = [point[0] for points in by_method.values() for point in points]
    for method, points in sorted(by_method.items()):
        points.sort()
        if all(density == 1.0 for density, _, _ in points):
            _, mean, error = points[0]
            axes.axhline(mean, color=colors[method], linestyle="--", label=f"{method} (dense)")
            if error:
                axes.axhspan(mean - error, mean + error, color=colors[method], alpha=0.12, lw=0)
        else:
            x, means, errors = zip(*points, strict=True)
            axes.errorbar(
                x,
                means,
                yerr=errors,
                color=colors[method],
                marker="o",
                capsize=3,
                label=method,
            )
    axes.set_xscale("log")
    axes.set_xlim(min(min(densities), 0.5) / 1.5, 1.5)
    axes.set_xlabel("density (fraction of weights kept)")
    axes.set_ylabel(f"{METRICS[metric]} {SPLIT} accuracy (%)")
    groups_title = _title(groups[0].dataset, groups[0].conflict_pct)
    axes.set_title(groups_title, fontsize="medium")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    return True


def representative_groups(groups: Sequence[Group], density: float | None) -> list[Group]:
    """One group per method: the one nearest ``density`` on a log scale (default: the
    sparsest density trained), so sparse methods are compared at one compression."""
    if density is None:
        density = min(g.density for g in groups)
    chosen: dict[str, Group] = {}
    for group in sorted(groups, key=lambda g: -g.density):
        distance = abs(math.log(group.density / density))
        best = chosen.get(group.method)
        if best is None or distance < abs(math.log(best.density / density)):
            chosen[group.method] = group
    return [chosen[method] for method in sorted(chosen)]


def plot_group_heatmaps(groups: Sequence[Group], path: Path) -> bool:
    """Per-group test accuracy (target y down, bias b across), one panel per group.
    False (and no file) when no group has bias-labelled metrics."""
    import numpy as np
    from matplotlib.figure import Figure

    panels = [(g, g.group_accuracy()) for g in groups]
    panels = [(g, accs) for g, accs in panels if accs]
    if not panels:
        return False
    rows_y = 1 + max(y for _, accs in panels for y, _b in accs)
    cols_b = 1 + max(b for _, accs in panels for _y, b in accs)
    per_row = min(len(panels), 4)
    lines = -(-len(panels) // per_row)
    side = max(2.4, 0.32 * max(rows_y, cols_b))
    figure = Figure(
        figsize=(side * per_row + 1.0, side * lines + 0.6), dpi=100, layout="constrained"
    )
    image = None
    for index, (group, accs) in enumerate(panels):
        axes = figure.add_subplot(lines, per_row, index + 1)
        grid = np.full((rows_y, cols_b), np.nan)
        for (y, b), accuracy in accs.items():
            grid[y, b] = 100 * accuracy
        image = axes.imshow(np.ma.masked_invalid(grid), vmin=0, vmax=100, cmap="viridis")
        if rows_y * cols_b <= 100:
            for (y, b), accuracy in accs.items():
                value = 100 * accuracy
                color = "white" if value < 60 else "black"
                axes.text(b, y, f"{value:.0f}", ha="center", va="center", fontsize=7, color=color)
        axes.set_title(f"{group.method} (density {group.density:g})", fontsize="small")
        axes.set_xlabel("bias b", fontsize="small")
        axes.set_ylabel("target y", fontsize="small")
        axes.set_xticks(range(cols_b))
        axes.set_yticks(range(rows_y))
        axes.tick_params(labelsize=6)
    figure.suptitle(
        f"{SPLIT} accuracy per group (%): {_title(groups[0].dataset, groups[0].conflict_pct)}",
        fontsize="medium",
    )
    figure.colorbar(image, ax=figure.axes, shrink=0.8)
    figure.savefig(path)
    return True


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
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    groups = group_runs(collection.summaries)
    table = results_table(groups)
    colors = _method_colors(g.method for g in groups)

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
        for pct in sorted({g.conflict_pct for g in of_dataset}, key=_sort_key):
            panel = [g for g in of_dataset if g.conflict_pct == pct]
            name = _panel_name(dataset, pct)
            lines += [f"## {_title(dataset, pct)}", ""]
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
