"""What a launcher costs: the same 12-run sweep on each launcher, wall time and overhead.

The sweep is deliberately tiny (1 epoch of a width-8 MLP on 8x8 Colored MNIST from the
built-in digits, batch 512; ERM and REST at density 0.5, conflict 1% and 5%, 3 seeds)
so that what is measured is the launcher, not training: for each launcher, the wall
time of ``run_sweep``, and the overhead per run, i.e. the slot-seconds each run holds
beyond its training epochs (``slots x wall / runs - mean training seconds``: process
start, imports, data loading, evaluation, checkpoints, and queueing). Launchers:

* ``in-process``: ``--workers 0``, the floor (no process start, data cached);
* ``local``: ``--workers 2``, a fresh process per run;
* ``slurm``: one array job, ``--slurm-array-parallelism 2``, 1 CPU per run, on the
  Slurm cluster that ``sbatch`` reaches, or with ``--start-slurm`` a single-node
  cluster started here for the benchmark (root and ``slurm-wlm munge`` needed; the
  tests' ``tests/slurm_cluster.py``).

On a GPU node, ``--gpus`` adds the ``gpus`` launcher with k = 1, 2, 4, 8 runs per GPU
and reports runs per hour. Writes ``--results`` (markdown table + JSON)::

    python benchmarks/launchers.py --start-slurm
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rest.config import TrainConfig
from rest.launch import GpusLauncher, LocalLauncher, SlurmLauncher, SlurmOptions
from rest.sweep import run_sweep
from rest.sweep_status import LAUNCH_DIR

BASE = {
    "data": {"dataset": "cmnist", "image_size": 8},
    "model": {"model": "mlp", "width": 8},
    "optim": {"epochs": 1, "batch_size": 512},
    "run": {"device": "cpu"},
}
GRID = {"methods": ["erm", "rest"], "densities": [0.5], "conflict_pcts": [1, 5], "seeds": [0, 1, 2]}


def measure(name: str, launcher: Any, slots: int, out: Path, base: TrainConfig) -> dict[str, Any]:
    started = time.perf_counter()
    results = run_sweep(base, out=out, progress=False, launcher=launcher, **GRID)
    wall = time.perf_counter() - started
    failed = [r.error for r in results if r.status != "trained"]
    if failed:
        raise SystemExit(f"{name}: {len(failed)} runs did not train: {failed[0]}")
    training = [r.summary["time"]["total_seconds"] for r in results if r.summary]
    runs = len(results)
    return {
        "launcher": name,
        "slots": slots,
        "runs": runs,
        "wall_s": wall,
        "train_s_per_run": sum(training) / runs,
        "overhead_s_per_run": slots * wall / runs - sum(training) / runs,
        "runs_per_hour": runs / wall * 3600,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| launcher | runs at once | runs | wall s | training s/run | overhead s/run | runs/hour |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['launcher']} | {row['slots']} | {row['runs']} | {row['wall_s']:.1f} | "
            f"{row['train_s_per_run']:.2f} | {row['overhead_s_per_run']:.1f} | "
            f"{row['runs_per_hour']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="benchmarks/results/launchers")
    parser.add_argument("--start-slurm", action="store_true", help="start a single-node Slurm")
    parser.add_argument("--no-slurm", action="store_true", help="skip the slurm launcher")
    parser.add_argument("--gpus", action="store_true", help="add the gpus launcher, k=1,2,4,8")
    args = parser.parse_args()

    base = TrainConfig.from_dict(BASE)
    scratch = Path(tempfile.mkdtemp(prefix="rest-launchers-"))
    cluster = None
    rows = []
    try:
        rows.append(measure("in-process", LocalLauncher(0, scratch), 1, scratch / "inproc", base))
        local = scratch / "local"
        rows.append(measure("local", LocalLauncher(2, local / LAUNCH_DIR), 2, local, base))
        if not args.no_slurm:
            if args.start_slurm:
                sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
                from slurm_cluster import start_cluster

                cluster = start_cluster(scratch / "slurm-cluster")
            slurm = scratch / "slurm"
            options = SlurmOptions(cpus_per_run=1, array_parallelism=2)
            launcher = SlurmLauncher(options, slurm / LAUNCH_DIR / "slurm")
            rows.append(measure("slurm", launcher, 2, slurm, base))
        if args.gpus:
            for k in (1, 2, 4, 8):
                out = scratch / f"gpus-{k}"
                gpu_base = TrainConfig.from_dict({**BASE, "run": {"device": "cuda"}})
                launcher = GpusLauncher(k, out / LAUNCH_DIR)
                slots = k * len(launcher.gpus)
                rows.append(measure(f"gpus k={k}", launcher, slots, out, gpu_base))
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python", *sys.argv]),
    }
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.with_suffix(".json").write_text(
        json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n"
    )
    text = (
        "# Launcher overhead: one 12-run sweep per launcher\n\n"
        f"`{machine['command']}` on {machine['cpus']} CPUs ({machine['platform']}), "
        f"{machine['date']}; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in machine['load_average_at_end'])}.\n\n"
        f"{table(rows)}\n\n"
        "Overhead per run: slot-seconds a run holds beyond its training epochs "
        "(process start, imports, data loading, evaluation, checkpoints, queueing).\n"
    )
    results.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
