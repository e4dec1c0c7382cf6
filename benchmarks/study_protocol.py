"""The protocol of the study of issue 12, fixed before any run, and its plan.

The grid (see benchmarks/results/study/README.md): datasets and conflict ratios,
methods, REST's densities, seeds, the ``default`` and ``tuned`` rows and the
budgets; a :class:`Selection` picks a part of it (values outside the protocol are
refused) and :func:`plan_blocks` turns that part into calls of the sweep API.
``study.py`` runs the plan and reports it; ``study_cost.py`` estimates its cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.config import TrainConfig, replace
from rest.errors import RestError
from rest.methods import METHODS
from rest.report.study_grid import PlannedRun, SkippedPart
from rest.runs import read_json
from rest.sweep import plan_sweep
from rest.tune.study import SELECTED_FILE, SETTINGS_FILE, TuneDirectory

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
TUNE_FOLDER = "tune"  # RUNS/tune/<dataset>-<pct>pct: the rest tune directory of a cell

ChoiceKey = tuple[str, float, str, float]  # (dataset, conflict ratio, method, density)


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


def tune_path(tune_root: Path, dataset: str, pct: float) -> Path:
    return tune_root / f"{dataset}-{pct:g}pct"


def tuned_choices(tune_root: Path) -> dict[ChoiceKey, dict[str, Any]]:
    """The tuned fields ``rest tune`` chose, keyed by (dataset, conflict ratio, method,
    density); read from every tuning directory under ``tune_root`` (its ``tune.json``
    names the cell, its ``selected.json`` holds the choices). A missing root is empty."""
    if not tune_root.exists():
        return {}
    if not tune_root.is_dir():
        raise RestError(f"--tuned {tune_root} is a file; give the folder of rest tune directories")
    choices: dict[ChoiceKey, dict[str, Any]] = {}
    where: dict[tuple[str, float], Path] = {}
    for path in sorted(p for p in tune_root.iterdir() if (p / SETTINGS_FILE).is_file()):
        base = TuneDirectory(path).open().base_config
        cell = (base.data.dataset, base.data.conflict_pct)
        if cell in where:
            raise RestError(
                f"--tuned {tune_root}: two tuning directories for {cell[0]} at {cell[1]:g}% "
                f"({where[cell].name}, {path.name}); keep one"
            )
        where[cell] = path
        selected = path / SELECTED_FILE
        for choice in (read_json(selected) if selected.is_file() else {}).values():
            choices[(*cell, choice["method"], float(choice["density"]))] = dict(choice["params"])
    return choices


def missing_choice_reason(
    choices: dict[ChoiceKey, Any], tune_root: Path, dataset: str, pct: float, density: float
) -> str:
    """Why a (dataset, ratio, method, density) of the tuned row has no choice."""
    if not any(key[:2] == (dataset, pct) for key in choices):
        return f"not tuned (no choices under {tune_root}; run study.py --tune)"
    at = "" if math.isclose(density, 1.0) else f" at density {density:g}"
    return f"no choice{at} in {tune_path(tune_root, dataset, pct)} (run study.py --tune)"


def plan_blocks(
    budget: Budget,
    selection: Selection,
    runs_root: Path,
    tune_root: Path | None = None,
    source: str | None = None,
    device: str = "auto",
) -> tuple[list[Block], list[SkippedPart]]:
    """The sweeps of the selected part of the grid, and the parts that cannot run (a tuned
    row without a choice), each with its reason.

    The default row is two sweeps per dataset -- every method but sparse-only crossed
    with REST's densities, and sparse-only at its one density -- so ``--workers`` runs
    stay busy across methods and ratios; a tuned row is one sweep per (ratio, method,
    density), since each has its own choice, read from the ``rest tune`` directories
    under ``tune_root`` (default ``runs_root/tune``). A choice sets only the tuned
    hyperparameters: the data, model, epochs and density stay the study's.
    """
    root = tune_root if tune_root is not None else runs_root / TUNE_FOLDER
    choices = tuned_choices(root) if "tuned" in selection.rows else {}
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
                    for density in selection.densities_of(method):
                        params = choices.get((dataset, pct, method, density))
                        if params is None:
                            reason = missing_choice_reason(choices, root, dataset, pct, density)
                            skipped.append(SkippedPart(row, dataset, pct, method, reason))
                            continue
                        tuned = replace(base, **params)
                        blocks.append(
                            Block(row, dataset, (method,), tuned, [density], [pct], seeds, out)
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
