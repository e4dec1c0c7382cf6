"""Does LfF at its published settings beat ERM on the built-in Colored MNIST?

Trains ERM (SGD, lr 0.01: the published CNN recipe) and LfF at its published
settings (Adam, lr 1e-3 for both models, EMA 0.7, GCE q 0.7 -- the defaults now)
on ``cmnist`` at 1% conflicting, 8 epochs, batch 64, seeds 41/42/43 (the recipe
of the quick accuracy preset, where LfF still trained with SGD at lr 0.01). Prints
and writes a table of test accuracy of the epoch selected on validation (mean ± std
over seeds), and, per epoch, how the LfF weight of the conflicting and the aligned
training samples evolves (the mean relative difficulty the main model gives each
kind, and the share of the total weight that falls on the 1% conflicting samples)::

    python benchmarks/lff_vs_erm.py --workers 3 --out benchmarks/results/lff_vs_erm.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from rest.config import TrainConfig
from rest.data import load_dataset
from rest.data.config import DataConfig
from rest.engine import fit
from rest.methods.lff import LfF
from rest.trainer import Trainer

SEEDS = (41, 42, 43)
VARIANTS: dict[str, dict[str, Any]] = {
    "erm": {"method": "erm", "optim": {}},
    "lff (published: adam, lr 1e-3)": {"method": "lff", "optim": {}},
}


class WeightTrace:
    """Records, after every training epoch of an LfF run, the LfF weights of the
    conflicting and the aligned training samples."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._original = Trainer.train_epoch

    def __enter__(self) -> WeightTrace:
        trace, original = self, self._original

        def traced(trainer: Trainer, description: str) -> dict[str, float]:
            stats = original(trainer, description)
            if isinstance(trainer.method, LfF) and description.startswith("epoch"):
                trace.record(trainer.method)
            return stats

        Trainer.train_epoch = traced  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Trainer.train_epoch = self._original  # type: ignore[method-assign]

    def record(self, method: LfF) -> None:
        train = method.context.splits.train
        weights = method.relative_difficulty(torch.arange(len(train)))
        conflicting = train.conflicting
        self.rows.append(
            {
                "conflicting": float(weights[conflicting].mean()),
                "aligned": float(weights[~conflicting].mean()),
                "conflicting_share": float(weights[conflicting].sum() / weights.sum()),
            }
        )


def mean_std(values: list[float]) -> str:
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def train_one(name: str, seed: int, epochs: int, device: str) -> tuple[dict, list[dict]]:
    """(summary, LfF weight trace) of one run; a process of its own when ``--workers`` > 1."""
    torch.set_num_threads(1)
    variant = VARIANTS[name]
    splits = load_dataset(DataConfig(dataset="cmnist", conflict_pct=1.0))
    config = TrainConfig.from_dict(
        {
            "method": variant["method"],
            "data": {"dataset": "cmnist", "conflict_pct": 1.0},
            "optim": {"batch_size": 64, "epochs": epochs, **variant["optim"]},
            "run": {"seed": seed, "device": device},
        }
    )
    with WeightTrace() as trace:
        summary = fit(config, splits, show_progress=False)
    test = summary["selected"]["test"]
    print(
        f"{name} seed {seed}: {summary['config']['optim']['optimizer']} "
        f"lr {summary['config']['optim']['lr']} conflicting {test['conflicting']:.3f} "
        f"unbiased {test['unbiased']:.3f}",
        flush=True,
    )
    return summary, trace.rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the markdown table here too")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=1, help="runs trained in parallel")
    args = parser.parse_args()

    started = time.perf_counter()
    jobs = [(name, seed) for name in VARIANTS for seed in SEEDS]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [
            pool.submit(train_one, name, seed, args.epochs, args.device) for name, seed in jobs
        ]
        done = [future.result() for future in futures]
    results: dict[str, list[dict[str, Any]]] = {}
    traces: dict[str, list[list[dict[str, float]]]] = {}
    for (name, _), (summary, rows) in zip(jobs, done, strict=True):
        results.setdefault(name, []).append(summary)
        traces.setdefault(name, []).append(rows)

    lines = [
        f"# LfF vs ERM on cmnist (1% conflicting, {args.epochs} epochs, batch 64, "
        f"seeds {', '.join(map(str, SEEDS))}, {args.device})",
        "",
        "Test accuracy (%) at the epoch selected on validation worst-group accuracy.",
        "",
        "| variant | conflicting | aligned | unbiased | worst group |",
        "|---|---|---|---|---|",
    ]
    for name, summaries in results.items():
        tests = [s["selected"]["test"] for s in summaries]
        cells = [mean_std([t[key] for t in tests]) for key in ("conflicting", "aligned")]
        cells += [mean_std([t[key] for t in tests]) for key in ("unbiased", "worst_group")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, runs in traces.items():
        if not runs[0]:
            continue
        lines += [
            "",
            f"LfF weights per epoch, {name}, mean over seeds: mean weight of a conflicting / "
            "an aligned training sample, and the conflicting samples' share of the total weight.",
            "",
            "| epoch | conflicting | aligned | conflicting share |",
            "|---|---|---|---|",
        ]
        for epoch in range(len(runs[0])):
            cells = [
                statistics.mean(run[epoch][key] for run in runs)
                for key in ("conflicting", "aligned", "conflicting_share")
            ]
            lines.append(f"| {epoch + 1} | {cells[0]:.3f} | {cells[1]:.3f} | {cells[2]:.3f} |")
    lines += ["", f"Wall time: {time.perf_counter() - started:.0f} s."]
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
        args.out.with_suffix(".json").write_text(
            json.dumps(
                {name: [s["selected"] for s in summaries] for name, summaries in results.items()},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
