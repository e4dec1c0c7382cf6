"""The cost of the study: 1-epoch measurement runs, the CPU-hours estimate, ``cost.md``.

``study.py --measure`` trains one epoch of each selected (dataset, method) and
records its wall and CPU seconds; ``--estimate`` (and ``--measure``) turns those
records into the CPU-hours of parts of the grid (:func:`estimate`) and writes them
with the command and machine to ``cost.md`` (:func:`write_cost`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import time
from pathlib import Path

from accuracy import machine_description
from rest.config import TrainConfig
from rest.runs import read_json
from rest.sweep import run_sweep
from rest.tables import markdown_table
from study_protocol import (
    DATASETS,
    SEEDS,
    SPARSE_ONLY_DENSITY,
    Budget,
    Selection,
    base_config,
    plan_blocks,
    planned_runs,
)
from study_tuning import DEFAULT_TRIALS

WALLS_FILE = "wall_seconds.json"
DATA_PREPARATION_FILE = "data-preparation.json"
# the cost estimate: per-method costs come from this dataset, and a dataset here without
# its own measurement is costed from the named one by its model's FLOPs
REFERENCE_DATASET = "cmnist"
SCALED_FROM = {"corrupted": "cfmnist"}
FASHION_SHAPE = (3, 28, 28)
WHOLE_GRID = "whole grid, default row"


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
        WHOLE_GRID: Selection(rows=("default",)),
    }
    trials = getattr(args, "trials", DEFAULT_TRIALS)
    trial_epochs = getattr(args, "tune_epochs", None) or budget.epochs
    estimates, search_hours = [], 0.0
    for label, selection in parts.items():
        blocks, _skipped = plan_blocks(budget, selection, Path("."))
        seconds, trial_seconds, unknown = 0.0, 0.0, set()
        planned = planned_runs(blocks)
        for run in planned:
            if (run.dataset, "rest") not in epoch:
                unknown.add(run.dataset)
                continue
            per_epoch = epoch.get(
                (run.dataset, run.method),
                epoch[run.dataset, "rest"] * relative.get(run.method, 1.0),
            )
            fixed = setup[run.dataset, "rest"]
            if run.method == "jtt":
                epochs_erm = blocks[0].base.reweight.infer_epochs
                fixed += epochs_erm * epoch[run.dataset, "rest"] * relative.get("erm", 1.0)
            seconds += fixed + budget.epochs * per_epoch
            # the search of a (method, density): --trials runs where the row has one per seed
            trial_seconds += (fixed + trial_epochs * per_epoch) * trials / len(SEEDS)
        note = f" (+ not measured: {', '.join(sorted(unknown))})" if unknown else ""
        estimates.append([label, len(planned), f"{seconds / 3600:.1f}{note}"])
        if label == WHOLE_GRID:
            search_hours = trial_seconds / 3600
    title = f"CPU-hours at `{budget.name}` ({budget.epochs} epochs)"
    lines += [markdown_table(["part", "runs", title], estimates), ""]
    lines += [f"- {note}" for note in notes]
    lines.append(
        f"- the tuned row: its searches (`--tune`, {trials} trials per method and density, "
        f"{trial_epochs} epochs each) cost at most {search_hours:.0f} CPU-hours for the whole "
        "grid (less as pruning stops hopeless trials), then its runs as much as the default row"
    )
    lines.append(
        "- wall time on N otherwise idle cores is at best CPU-hours / N (torch spreads one "
        "run over the cores; `--workers` runs several at once)"
    )
    return "\n".join(lines)


def write_cost(args: argparse.Namespace, budget: Budget, argv: list[str]) -> None:
    """Estimate the grid's cost, print it and write it with its command and machine to
    ``cost.md`` in ``--results`` (default benchmarks/results/study)."""
    text = estimate(args, budget)
    cost = Path(args.results or "benchmarks/results/study") / "cost.md"
    cost.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(shlex.quote(a) for a in argv)
    cost.write_text(
        f"# Cost of the study\n\n- command: `{command}`\n- machine: {machine_description()}\n"
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{text}\n"
    )
    print(text)
    print(f"written: {cost}")
