"""The study report's own plot: accuracy against inference FLOPs with the Pareto front.

(Accuracy against density is the shared :func:`rest.report.plots.plot_accuracy_vs_density`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rest.report.study_grid import Cell, label


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
