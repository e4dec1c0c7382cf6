"""The study of issue 12: does REST keep its promise at full data scale?

The protocol is fixed here, before any run (see benchmarks/results/study/README.md):

* data: ``cfmnist`` and ``corrupted`` (Fashion-MNIST source) at 0.5, 1, 2 and 5%
  bias-conflicting, built-in ``cmnist`` at 1% as the small-data contrast;
* methods: ERM, dense reweighting, sparse-only (density 0.1), REST at densities
  0.5, 0.2, 0.1, 0.05, 0.01, 0.005, JTT, GroupDRO, LfF; seeds 41, 42, 43;
* two rows per method: ``default`` (the published defaults, i.e. ``rest``'s
  defaults) and ``tuned`` (hyperparameters chosen on validation by ``rest tune``,
  read from ``--tuned DIR``; without it the tuned row is listed as not run);
* budgets: ``gpu`` (100 epochs, as published), ``cpu`` (20 epochs at full data
  size), ``smoke`` (1 epoch of a width-8 network, for tests).

``--datasets``, ``--pcts``, ``--methods``, ``--densities``, ``--seeds`` and ``--rows``
pick a part of the grid (values outside the protocol are refused); the sweeps
resume, so the grid runs in parts and a killed part continues where it stopped.
Every run lands in ``--runs`` (``ROW/DATASET/RUN``), one folder to copy back from a
GPU slot; ``--report-only`` rebuilds the report from it, marked PARTIAL while runs
are missing::

    python benchmarks/study.py --budget cpu --datasets cfmnist --pcts 1 5 --workers 2
    python benchmarks/study.py --budget gpu --device cuda --workers 8
    python benchmarks/study.py --budget cpu --report-only
    python benchmarks/study.py --budget cpu --measure --datasets cfmnist corrupted --methods rest
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.config import TrainConfig
from rest.errors import RestError
from rest.methods import METHODS
from rest.report.study import write_study_report
from rest.report.study_grid import PlannedRun, SkippedPart
from rest.report.study_tables import describe_skipped
from rest.runs import read_json
from rest.sweep import plan_sweep, run_sweep
from rest.tables import markdown_table

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
WALLS_FILE = "wall_seconds.json"
DATA_PREPARATION_FILE = "data-preparation.json"
# the cost estimate: per-method costs come from this dataset, and a dataset here without
# its own measurement is costed from the named one by its model's FLOPs
REFERENCE_DATASET = "cmnist"
SCALED_FROM = {"corrupted": "cfmnist"}
FASHION_SHAPE = (3, 28, 28)


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


def part_command(budget: str, dataset: str, pct: float, extra: str) -> str:
    return (
        f"python benchmarks/study.py --budget {budget} --datasets {dataset} --pcts {pct:g}{extra}"
    )


def header(budget: Budget, runs_root: Path, source: str | None, info: dict[str, Any]) -> list[str]:
    return [
        f"# The study: REST against the baselines, budget `{budget.name}`",
        "",
        f"- budget: {budget.description}; every number below comes from this budget",
        "- settings of the default row: `rest train`'s published defaults (batch 256, SGD momentum "
        "0.9, lr 0.01 for the CNN / 0.001 for ResNet-18, reduce-on-plateau, weighted sampler "
        "with lambda_up 10/30/50/80 for 0.5/1/2/5%, ERK RigL with ~30 mask updates per run); "
        "the tuned row: the hyperparameters `rest tune` chose (each run's config.json)",
        f"- data source: {source or 'each dataset default (Fashion-MNIST, built-in MNIST digits)'}",
        f"- runs: `{runs_root}`; each run's `config.json` and `summary.json` are copied under "
        "`runs/` here and linked from the tables; `rest train --config runs/.../config.json` "
        "reruns one",
        "- accuracies: test split, at the epoch selected on validation (worst-group), mean ± "
        "sample std over seeds; FLOPs per image (inference) and per run (training) of the "
        "sparse model, means over seeds",
        *(f"- {key}: {value}" for key, value in info.items()),
        "",
    ]


# ---- measuring the cost of the grid ----


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure_data_preparation(config: TrainConfig, path: Path) -> None:
    """CPU and wall seconds of generating the dataset in memory, which every run does."""
    from rest.data import load_dataset

    load_before = os.getloadavg()[0]
    started, usage = time.time(), resource.getrusage(resource.RUSAGE_SELF)
    load_dataset(config.data)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    record = {
        "wall_seconds": time.time() - started,
        "cpu_seconds": cpu,
        "load_average": [load_before, os.getloadavg()[0]],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")


def measure(args: argparse.Namespace, budget: Budget, selection: Selection) -> None:
    """Train one epoch of each selected (dataset, method) at 1% (REST and sparse-only at
    density 0.1; for a dataset in :data:`SCALED_FROM`, only generate its data), one fresh
    process at a time, and record each run's wall and CPU seconds (data preparation,
    training, evaluation) and the machine's load. CPU seconds hardly change with other
    work on the machine; wall seconds do."""
    out = Path(args.measure_dir)
    walls_path = out / WALLS_FILE
    walls = json.loads(walls_path.read_text()) if walls_path.is_file() else {}
    for dataset in selection.datasets:
        base = base_config(budget, dataset, args.source, args.device, epochs=1)
        if dataset in SCALED_FROM:
            _measure_data_preparation(base, out / dataset / DATA_PREPARATION_FILE)
            continue
        for method in selection.methods:
            load_before = os.getloadavg()[0]
            started, cpu_started = time.time(), _children_cpu_seconds()
            (result,) = run_sweep(
                base, [method], [SPARSE_ONLY_DENSITY], [1.0], [SEEDS[0]], out / dataset, workers=1
            )
            if result.status == "trained":
                walls[f"{dataset}/{result.run.name}"] = {
                    "wall_seconds": time.time() - started,
                    "cpu_seconds": _children_cpu_seconds() - cpu_started,
                    "load_average": [load_before, os.getloadavg()[0]],
                }
                walls_path.parent.mkdir(parents=True, exist_ok=True)
                walls_path.write_text(json.dumps(walls, indent=2) + "\n")


def _model_flops(dataset: str) -> float:
    """Dense inference FLOPs of the dataset's default model on a Fashion-MNIST image."""
    from rest.data.datasets import DATASETS as BENCHMARKS
    from rest.models import build_model
    from rest.sparse import inference_flops

    model = build_model(BENCHMARKS.get(dataset).model, 10, FASHION_SHAPE, None)
    return float(inference_flops(model, FASHION_SHAPE)["dense"])


def estimate(args: argparse.Namespace, budget: Budget) -> str:
    """CPU-hours of the grid at ``budget`` from the 1-epoch runs of :func:`measure`.

    Cost model, in CPU seconds: a run takes ``S + epochs * E * M`` (JTT adds
    ``infer_epochs`` epochs of ERM). ``E`` is the CPU time of REST's training epoch on
    the dataset (the run's CPU seconds times the share of its wall time spent training),
    ``S`` the rest of that run's CPU time (data preparation, one evaluation, process
    start) and ``M`` the method's training cost relative to REST, measured on ``cmnist``
    (cheap to measure for every method); a (dataset, method) measured itself uses its
    own ``E * M``. A dataset in :data:`SCALED_FROM` takes the
    measured dataset's ``E`` times the ratio of their models' FLOPs (same 54,000
    training images), and its ``S`` plus the measured CPU time of generating the data.
    Evaluating every epoch (16,000 images, forward only) adds roughly another 10%.
    """
    out = Path(args.measure_dir)
    walls_path = out / WALLS_FILE
    walls = json.loads(walls_path.read_text()) if walls_path.is_file() else {}
    epoch: dict[tuple[str, str], float] = {}
    setup: dict[tuple[str, str], float] = {}
    rows = []
    for key, record in sorted(walls.items()):
        summary = read_json(out / key / "summary.json")
        cell = (str(summary["dataset"]), str(summary["method"]))
        train_wall = float(summary["time"]["seconds_per_epoch"])
        wall, cpu = float(record["wall_seconds"]), float(record["cpu_seconds"])
        epoch[cell] = cpu * min(1.0, train_wall / wall)
        setup[cell] = cpu - epoch[cell]
        load = "-".join(f"{value:.1f}" for value in record["load_average"])
        numbers = [f"{value:.1f}" for value in (train_wall, wall, cpu, epoch[cell])]
        rows.append([*cell, *numbers, load, f"`{key}`"])
    headers = ["dataset", "method", "train wall s", "run wall s", "run CPU s", "train CPU s"]
    lines = ["Measured (1 epoch each, fp32, `--device cpu`, on a shared machine):", ""]
    lines += [markdown_table([*headers, "load avg", "run"], rows), ""]
    notes = []
    for dataset, measured in SCALED_FROM.items():
        if (dataset, "rest") not in epoch and (measured, "rest") in epoch:
            ratio = _model_flops(dataset) / _model_flops(measured)
            epoch[dataset, "rest"] = epoch[measured, "rest"] * ratio
            preparation_path = out / dataset / DATA_PREPARATION_FILE
            preparation = (
                float(read_json(preparation_path)["cpu_seconds"])
                if preparation_path.is_file()
                else None
            )
            setup[dataset, "rest"] = setup[measured, "rest"] + (preparation or 0.0)
            generation = (
                f"{preparation:.0f} CPU s measured generating {dataset}"
                if preparation is not None
                else f"generating {dataset} (not measured: --measure --datasets {dataset})"
            )
            notes.append(
                f"{dataset}: training not measured; {measured}'s REST epoch x {ratio:.1f} (model "
                f"FLOPs ratio) = {epoch[dataset, 'rest']:.0f} CPU s per training epoch; "
                f"setup: {measured}'s plus {generation}"
            )
    relative = {
        method: epoch[REFERENCE_DATASET, method] / epoch[REFERENCE_DATASET, "rest"]
        for dataset, method in epoch
        if dataset == REFERENCE_DATASET and (REFERENCE_DATASET, "rest") in epoch
    }
    if relative:
        shown = ", ".join(f"{m} {r:.2f}" for m, r in sorted(relative.items()))
        notes.append(f"method cost relative to REST (measured on {REFERENCE_DATASET}): {shown}")
    parts = {
        "cfmnist 1% and 5%": Selection(datasets=("cfmnist",), pcts=(1.0, 5.0), rows=("default",)),
        **{
            f"{dataset}, all its ratios": Selection(datasets=(dataset,), rows=("default",))
            for dataset in DATASETS
        },
        "whole grid, default row": Selection(rows=("default",)),
    }
    estimates = []
    for label, selection in parts.items():
        blocks, _skipped = plan_blocks(budget, selection, Path("."))
        seconds, unknown = 0.0, set()
        planned = planned_runs(blocks)
        for run in planned:
            if (run.dataset, "rest") not in epoch:
                unknown.add(run.dataset)
                continue
            per_epoch = epoch.get(
                (run.dataset, run.method),
                epoch[run.dataset, "rest"] * relative.get(run.method, 1.0),
            )
            epochs = budget.epochs
            if run.method == "jtt":
                epochs_erm = blocks[0].base.reweight.infer_epochs
                seconds += epochs_erm * epoch[run.dataset, "rest"] * relative.get("erm", 1.0)
            seconds += setup[run.dataset, "rest"] + epochs * per_epoch
        note = f" (+ not measured: {', '.join(sorted(unknown))})" if unknown else ""
        estimates.append([label, len(planned), f"{seconds / 3600:.1f}{note}"])
    title = f"CPU-hours at `{budget.name}` ({budget.epochs} epochs)"
    lines += [markdown_table(["part", "runs", title], estimates), ""]
    lines += [f"- {note}" for note in notes]
    lines.append("- the tuned row costs as much again, plus the tuning trials")
    lines.append(
        "- wall time on N otherwise idle cores is at best CPU-hours / N (torch spreads one "
        "run over the cores; `--workers` runs several at once)"
    )
    return "\n".join(lines)


def machine() -> str:
    """CPU model and cores, for the cost table."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores visible"


def _floats(values: Sequence[str] | None) -> tuple[float, ...] | None:
    if values is None:
        return None
    try:
        return tuple(float(v) for v in values)
    except ValueError as error:
        raise RestError(f"not a number: {error}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    parser.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), help="default: " + " ".join(DATASETS)
    )
    parser.add_argument("--pcts", nargs="+", help="conflict ratios (default: each dataset's)")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(METHOD_ORDER),
        help="default: " + " ".join(METHOD_ORDER),
    )
    parser.add_argument("--densities", nargs="+", help="REST densities (default: all six)")
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=list(SEEDS), help="default: 41 42 43"
    )
    parser.add_argument("--rows", nargs="+", default=list(ROWS), help="default and/or tuned")
    parser.add_argument("--tuned", help="directory of chosen configs (*.json) for the tuned row")
    parser.add_argument("--source", help="image source for every selected dataset (rest --source)")
    parser.add_argument("--runs", help="runs directory (default benchmarks/runs/study-BUDGET)")
    parser.add_argument(
        "--results",
        help="report directory (default benchmarks/results/study/BUDGET; for --measure and "
        "--estimate, where cost.md goes: default benchmarks/results/study)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at once (per GPU)")
    parser.add_argument("--dry-run", action="store_true", help="count the planned runs and stop")
    parser.add_argument(
        "--report-only", action="store_true", help="train nothing, write the report"
    )
    parser.add_argument("--measure", action="store_true", help="1-epoch runs to time the grid")
    parser.add_argument("--estimate", action="store_true", help="CPU-hours from --measure runs")
    parser.add_argument(
        "--measure-dir", default="benchmarks/runs/study-measure", help="where --measure trains"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return _main(args, list(sys.argv if argv is None else ["benchmarks/study.py", *argv]))
    except RestError as error:
        print(f"study: error: {error}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace, argv: list[str]) -> int:
    budget = BUDGETS[args.budget]
    selection = Selection(
        tuple(args.datasets),
        _floats(args.pcts),
        tuple(args.methods),
        _floats(args.densities),
        tuple(args.seeds),
        tuple(args.rows),
    )
    if args.measure:
        measure(args, budget, selection)
    if args.measure or args.estimate:
        text = estimate(args, budget)
        cost = Path(args.results or "benchmarks/results/study") / "cost.md"
        cost.parent.mkdir(parents=True, exist_ok=True)
        command = " ".join(shlex.quote(a) for a in argv)
        cost.write_text(
            f"# Cost of the study\n\n- command: `{command}`\n- machine: {machine()}\n"
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{text}\n"
        )
        print(text)
        print(f"written: {cost}")
        return 0
    runs_root = Path(args.runs or f"benchmarks/runs/study-{budget.name}")
    tuned_dir = Path(args.tuned) if args.tuned else None
    blocks, skipped = plan_blocks(budget, selection, runs_root, tuned_dir, args.source, args.device)
    planned = planned_runs(blocks)
    if args.dry_run:
        counts: dict[tuple[str, str, str], int] = {}
        for run in planned:
            key = (run.row, run.dataset, run.method)
            counts[key] = counts.get(key, 0) + 1
        for (row, dataset, method), count in counts.items():
            print(f"{row} {dataset} {method}: {count} runs")
        for line in describe_skipped(skipped):
            print(f"not planned: {line}")
        print(f"{len(planned)} runs planned")
        return 0
    failed = 0
    if not args.report_only:
        for block in blocks:
            results = run_sweep(block.base, **block.sweep_args(), workers=args.workers)
            failed += sum(result.status == "failed" for result in results)
    # the report covers the whole protocol at this budget, so a part shows as PARTIAL
    all_blocks, all_skipped = plan_blocks(budget, Selection(), runs_root, tuned_dir, args.source)
    extra = "".join(
        f" --{name} {shlex.quote(str(value))}"
        for name, value in (("source", args.source), ("tuned", args.tuned))
        if value
    )
    info = {"command of this report": " ".join(shlex.quote(a) for a in argv)}
    report = write_study_report(
        planned_runs(all_blocks),
        all_skipped,
        Path(args.results or f"benchmarks/results/study/{budget.name}"),
        header=header(budget, runs_root, args.source, info),
        command_for=lambda dataset, pct: part_command(budget.name, dataset, pct, extra),
    )
    print(f"report: {report.markdown}{' (PARTIAL)' if report.partial else ''}")
    if failed:
        print(f"{failed} run(s) failed; see {runs_root}/*/*/failures.jsonl", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
