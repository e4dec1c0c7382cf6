"""PNG plots of collected runs: accuracy against density, per-group heatmaps."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rest.report.collect import METRICS, SPLIT, Group


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", Path(text).name or text).strip("-") or "data"


def panel_name(dataset: str, pct: float | None) -> str:
    return f"{_slug(dataset)}-{'all' if pct is None else f'{pct:g}pct'}"


def panel_title(dataset: str, pct: float | None) -> str:
    return dataset if pct is None else f"{dataset}, {pct:g}% bias-conflicting"


def method_colors(methods: Iterable[str]) -> dict[str, Any]:
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
    groups_title = panel_title(groups[0].dataset, groups[0].conflict_pct)
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
        f"{SPLIT} accuracy per group (%): {panel_title(groups[0].dataset, groups[0].conflict_pct)}",
        fontsize="medium",
    )
    figure.colorbar(image, ax=figure.axes, shrink=0.8)
    figure.savefig(path)
    return True
