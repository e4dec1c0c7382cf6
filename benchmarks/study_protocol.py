"""The protocol of the study of issue 12, fixed before any run, and its plan.

The grid (see benchmarks/results/study/README.md): datasets and conflict ratios,
methods, REST's densities, seeds, the ``default`` and ``tuned`` rows and the
budgets; a :class:`Selection` picks a part of it (values outside the protocol are
refused) and :func:`plan_blocks` turns that part into calls of the sweep API.
``study.py`` runs the plan and reports it; ``study_cost.py`` estimates its cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.config import TrainConfig
from rest.errors import RestError
from rest.methods import METHODS
from rest.report.study_grid import PlannedRun, SkippedPart
from rest.sweep import plan_sweep

# ---- the protocol (fixed before any run) ----
DATASETS: dict[str, tuple[float, ...]] = {
    "cfmnist": (0.5, 1.0, 2.0, 5.0),
    "corrupted": (0.5, 1.0, 2.0, 5.0),
    "cmnist": (1.0,),
}
METHOD_ORDER = ("erm", "reweight", "sparse", "rest", "jtt", "groupdro", "lff")
REST_DENSITIES = (0.5, 0.2, 0.1, 0.05, 0.01, 0.005)
SPARSE_ONLY_DENSITY = 0.1
SEEDS = (41, 42, 43)
ROWS = ("default", "tuned")
# what a tuned config may change: hyperparameters, never the data, model, budget or density
TUNED_SECTIONS = ("optim", "reweight", "options", "sparse")
STUDY_FIXED = {("optim", "epochs"), ("sparse", "density")}


@dataclass(frozen=True)
class Budget:
    """How long each run trains; everything else is the published defaults."""

    name: str
    epochs: int
    description: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


BUDGETS = {
    "gpu": Budget("gpu", 100, "100 epochs, as published (for a GPU)"),
    "cpu": Budget("cpu", 20, "20 epochs at full data size (a reduced budget for CPU)"),
    "smoke": Budget(
        "smoke",
        1,
        "1 epoch, width-8 network, batch 64 (tests the machinery, not the method)",
        {"model": {"width": 8}, "optim": {"batch_size": 64}},
    ),
}


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Selection:
    """The part of the grid to run or report; every value is checked against the protocol."""

    datasets: tuple[str, ...] = tuple(DATASETS)
    pcts: tuple[float, ...] | None = None
    methods: tuple[str, ...] = METHOD_ORDER
    densities: tuple[float, ...] | None = None
    seeds: tuple[int, ...] = SEEDS
    rows: tuple[str, ...] = ROWS

    def __post_init__(self) -> None:
        all_pcts = sorted({p for pcts in DATASETS.values() for p in pcts})
        checks = [
            ("datasets", self.datasets, list(DATASETS)),
            ("pcts", self.pcts or (), all_pcts),
            ("methods", self.methods, list(METHOD_ORDER)),
            ("densities", self.densities or (), list(REST_DENSITIES)),
            ("seeds", self.seeds, list(SEEDS)),
            ("rows", self.rows, list(ROWS)),
        ]
        for name, values, allowed in checks:
            for value in values:
                if value not in allowed:
                    raise RestError(
                        f"--{name}: {_show(value)} is not in the study protocol; choose from "
                        + ", ".join(_show(a) for a in allowed)
                    )

    def pcts_of(self, dataset: str) -> list[float]:
        return [p for p in DATASETS[dataset] if self.pcts is None or p in self.pcts]

    def densities_of(self, method: str) -> list[float]:
        """The planned densities of a method: REST's six, sparse-only's one, 1 for the rest."""
        if method == "rest":
            return [d for d in REST_DENSITIES if self.densities is None or d in self.densities]
        if method == "sparse":
            keep = self.densities is None or SPARSE_ONLY_DENSITY in self.densities
            return [SPARSE_ONLY_DENSITY] if keep else []
        return [1.0]


@dataclass(frozen=True)
class Block:
    """One call of the sweep API: a base config crossed with methods, densities, ratios and
    seeds (the sweep crosses densities with the sparse methods only)."""

    row: str
    dataset: str
    methods: tuple[str, ...]
    base: TrainConfig
    densities: list[float]
    pcts: list[float]
    seeds: list[int]
    out: Path

    def sweep_args(self) -> dict[str, Any]:
        return {
            "methods": list(self.methods),
            "densities": self.densities,
            "conflict_pcts": self.pcts,
            "seeds": self.seeds,
            "out": self.out,
        }


def base_config(
    budget: Budget, dataset: str, source: str | None, device: str, epochs: int | None = None
) -> TrainConfig:
    values: dict[str, Any] = {key: dict(section) for key, section in budget.settings.items()}
    values.setdefault("optim", {})["epochs"] = epochs or budget.epochs
    values["data"] = {"dataset": dataset, **({"source": source} if source else {})}
    values["run"] = {"device": device}
    return TrainConfig.from_dict(values)


def tuned_configs(directory: Path | None) -> dict[tuple[str, float, str], dict[str, Any]]:
    """The chosen configs in ``directory`` (``*.json`` as ``rest train --config`` reads
    them, e.g. a tuned run's ``config.json`` copied there), keyed by (dataset, conflict
    ratio, method) read from the file itself."""
    if directory is None:
        return {}
    if not directory.is_dir():
        raise RestError(f"--tuned {directory} is not a directory of chosen configs")
    found: dict[tuple[str, float, str], dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        config = TrainConfig.from_file(path)
        key = (config.data.dataset, config.data.conflict_pct, config.method)
        if key in found:
            raise RestError(
                f"--tuned {directory}: two chosen configs for {key[2]} on {key[0]} at {key[1]:g}%; "
                "keep one"
            )
        found[key] = config.to_dict()
    return found


def with_tuned(base: TrainConfig, chosen: dict[str, Any]) -> TrainConfig:
    """``base`` with the chosen hyperparameters; the data, model, budget and density stay
    the study's."""
    values = base.to_dict()
    for section in TUNED_SECTIONS:
        for name, value in chosen.get(section, {}).items():
            if (section, name) not in STUDY_FIXED:
                values[section][name] = value
    return TrainConfig.from_dict(values)


def plan_blocks(
    budget: Budget,
    selection: Selection,
    runs_root: Path,
    tuned_dir: Path | None = None,
    source: str | None = None,
    device: str = "auto",
) -> tuple[list[Block], list[SkippedPart]]:
    """The sweeps of the selected part of the grid, and the parts that cannot run (a tuned
    row without a chosen config), each with its reason.

    The default row is two sweeps per dataset -- every method but sparse-only crossed
    with REST's densities, and sparse-only at its one density -- so ``--workers`` runs
    stay busy across methods and ratios; a tuned row is one sweep per (ratio, method),
    since each has its own chosen config.
    """
    tuned = tuned_configs(tuned_dir)
    blocks, skipped = [], []
    seeds = list(selection.seeds)
    for row in selection.rows:
        for dataset in selection.datasets:
            base = base_config(budget, dataset, source, device)
            out = runs_root / row / dataset
            pcts = selection.pcts_of(dataset)
            if not pcts:
                continue
            if row == "default":
                rest_densities = selection.densities_of("rest")
                shared = tuple(
                    m
                    for m in selection.methods
                    if m != "sparse" and (m != "rest" or rest_densities)
                )
                sparse_densities = selection.densities_of("sparse")
                if shared:
                    densities = rest_densities if "rest" in shared else [1.0]
                    blocks.append(Block(row, dataset, shared, base, densities, pcts, seeds, out))
                if "sparse" in selection.methods and sparse_densities:
                    blocks.append(
                        Block(row, dataset, ("sparse",), base, sparse_densities, pcts, seeds, out)
                    )
                continue
            for pct in pcts:
                for method in selection.methods:
                    densities = selection.densities_of(method)
                    if not densities:
                        continue
                    chosen = tuned.get((dataset, pct, method))
                    if chosen is None:
                        reason = (
                            "no --tuned directory of chosen configs (rest tune) given"
                            if tuned_dir is None
                            else f"no chosen config for it in {tuned_dir}"
                        )
                        skipped.append(SkippedPart(row, dataset, pct, method, reason))
                        continue
                    block_base = with_tuned(base, chosen)
                    blocks.append(
                        Block(row, dataset, (method,), block_base, densities, [pct], seeds, out)
                    )
    return blocks, skipped


def planned_runs(blocks: Sequence[Block]) -> list[PlannedRun]:
    planned = []
    for block in blocks:
        for run in plan_sweep(block.base, **block.sweep_args()):
            config = run.config
            density = config.sparse.density if METHODS.get(config.method).sparse else 1.0
            planned.append(
                PlannedRun(
                    block.row,
                    block.dataset,
                    config.data.conflict_pct,
                    config.method,
                    density,
                    config.run.seed,
                    run.path,
                )
            )
    return planned
