"""``rest demo``: ERM against REST on Colored MNIST at 1% conflict, from the built-in digits.

Needs no download: the digits ship inside a PyPI package. Two runs -- dense ERM and
REST at density 0.1 -- then one side-by-side table of test metrics at the epoch
selected on validation, model size, inference FLOPs and wall time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rest.config import TrainConfig, replace
from rest.tables import human_count, markdown_table, percent

DEMO_EPOCHS = 12
DEMO_DENSITY = 0.1


def demo_configs(epochs: int = DEMO_EPOCHS, seed: int = 42) -> dict[str, TrainConfig]:
    """The two runs of the demo, keyed by their run-directory name."""
    base = TrainConfig.from_dict(
        {
            "data": {"dataset": "cmnist", "conflict_pct": 1.0},
            "optim": {"epochs": epochs},
            "run": {"seed": seed},
        }
    )
    return {
        "erm": replace(base, method="erm"),
        f"rest-d{DEMO_DENSITY:g}": replace(base, method="rest", **{"sparse.density": DEMO_DENSITY}),
    }


def run_demo(
    out: str | Path = "runs/demo", epochs: int = DEMO_EPOCHS, seed: int = 42, progress: bool = True
) -> tuple[dict[str, dict[str, Any]], str]:
    """Train (or reuse finished) demo runs under ``out``; return the summaries and the table."""
    from rest.api import train

    summaries = {
        name: train(config, out=Path(out) / name, resume=True, progress=progress)
        for name, config in demo_configs(epochs, seed).items()
    }
    return summaries, comparison_table(summaries)


def comparison_table(summaries: dict[str, dict[str, Any]]) -> str:
    headers = [
        "run",
        "density",
        "aligned %",
        "conflicting %",
        "unbiased %",
        "worst group %",
        "non-zero params",
        "inference FLOPs",
        "wall time",
    ]
    rows = []
    for name, summary in summaries.items():
        test = summary["selected"]["test"]
        rows.append(
            [
                name,
                f"{summary['density']:g}",
                percent(test["aligned"]),
                percent(test["conflicting"]),
                percent(test["unbiased"]),
                percent(test["worst_group"]),
                human_count(summary["size"]["nonzeros"]),
                human_count(summary["flops"]["inference"]["sparse"]),
                f"{summary['time']['total_seconds']:.0f}s",
            ]
        )
    return markdown_table(headers, rows)
