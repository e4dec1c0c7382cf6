"""Sweeps: one base config crossed with methods, densities, conflict ratios and seeds.

Every run lands in ``OUT/<run_name(config)>``, a readable name ending in a hash of
the whole config, so running the same sweep again finds each finished run (its
``summary.json``) and trains nothing, continues the interrupted ones from their
saved state, and retries the ones that failed. Densities are crossed with the
sparse methods only: a dense method runs once per (conflict ratio, seed).

Each run is one job of a launcher (:mod:`rest.launch`): a fresh worker process on
this machine (``local``), one of ``k`` per GPU (``gpus``), or a task of a Slurm array
job (``slurm``), so a crash, a leak or the peak-memory figure of one run never
touches another. A failing run is logged to ``OUT/failures.jsonl`` and the sweep
carries on. A run another process is training (its directory is locked, e.g. by a
second sweep on the same directory) is left to it and reported ``busy``. While the
sweep runs, ``OUT/.launch`` holds the launcher's logs and the queue that
``rest sweep --status OUT`` reads.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rest.applicability import changed_fields, unread_fields
from rest.config import TrainConfig, replace
from rest.errors import RestError
from rest.launch import Job, JobResult, Launcher, LocalLauncher
from rest.methods import METHODS
from rest.naming import run_name
from rest.runs import RunDirectory, RunLocked, atomic_write
from rest.sparse.config import SparseConfig
from rest.sweep_status import LAUNCH_DIR, SweepQueue

FAILURES_FILE = "failures.jsonl"


@dataclass(frozen=True)
class SweepRun:
    """One planned run: its config and its directory."""

    config: TrainConfig
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        """``finished``, ``interrupted`` (resumes) or ``new``."""
        run = RunDirectory(self.path)
        if run.finished:
            return "finished"
        return "interrupted" if run.started else "new"


@dataclass
class SweepResult:
    """What became of one run: ``trained`` now, ``skipped`` (finished before), ``busy``
    (another process is training it), or ``failed``."""

    run: SweepRun
    status: str
    error: str | None = None

    @property
    def summary(self) -> dict[str, Any] | None:
        if self.status in ("failed", "busy"):
            return None
        return RunDirectory(self.run.path).read_summary()


def _values(name: str, values: Iterable[Any], convert: Callable[[str], Any]) -> list[Any]:
    """Parse ``values`` (numbers, or strings that may hold comma-separated lists), de-duplicated."""
    parsed: list[Any] = []
    for value in values:
        parts = value.split(",") if isinstance(value, str) else [value]
        for part in parts:
            if isinstance(part, str):
                part = part.strip()
                if not part:
                    continue
            try:
                item = convert(part)
            except (TypeError, ValueError):
                raise RestError(f"--{name}: {part!r} is not a valid value") from None
            if item not in parsed:
                parsed.append(item)
    if not parsed:
        raise RestError(f"--{name} needs at least one value")
    return parsed


def _integer(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def _density(value: Any) -> float:
    density = float(value)
    if not 0 < density <= 1:
        raise RestError(
            f"--densities: {value!r} is outside (0, 1]; a density is the fraction of weights kept"
        )
    return density


def method_config(base: TrainConfig, method: str, density: float) -> TrainConfig:
    """``base`` adapted to ``method`` at ``density`` (shared by sweeps and tuning).

    Each setting reaches only the methods that read it: a dense method gets the
    default dense sparse section, and every field the method (or its sparse strategy)
    does not read goes back to its default, so ``--lambda-up`` meant for REST neither
    fails ERM nor changes ERM's run name. JTT picks its own conflicting set, so it
    drops the base's ``conflict_source``.
    """
    kind = METHODS.get(method)
    default = TrainConfig()
    changes: dict[str, Any] = {
        field: getattr(getattr(default, field.split(".")[0]), field.split(".")[1])
        for field in unread_fields(method, base.sparse.strategy, base.reweight.conflict_source)
    }
    changes["method"] = method
    if kind.sparse:
        changes["sparse.density"] = density
    else:
        changes["sparse"] = dataclasses.asdict(SparseConfig(density=1.0))
    if kind.conflict_source == "jtt":
        changes["reweight.conflict_source"] = None
    return replace(base, **changes)


def _config_for(
    base: TrainConfig, method: str, density: float, pct: float, seed: int
) -> TrainConfig:
    """``base`` adapted to one run of the sweep."""
    return replace(
        method_config(base, method, density), **{"data.conflict_pct": pct, "run.seed": seed}
    )


def plan_sweep(
    base: TrainConfig,
    methods: Sequence[str] | None = None,
    densities: Sequence[float | str] | None = None,
    conflict_pcts: Sequence[float | str] | None = None,
    seeds: Sequence[int | str] | None = None,
    out: str | Path = "runs",
) -> list[SweepRun]:
    """Every run of the sweep, validated before anything trains.

    An axis left as None takes the base config's single value. Strings may hold
    comma-separated lists (as typed on the command line). Order: seeds outermost, so
    a complete picture for the first seed comes first.
    """
    method_names = _values("methods", methods or [base.method], str)
    for name in method_names:
        METHODS.get(name)
    density_values = _values("densities", densities or [base.sparse.density], _density)
    pct_values = _values("conflict-pcts", conflict_pcts or [base.data.conflict_pct], float)
    seed_values = _values("seeds", seeds or [base.run.seed], _integer)
    ignored = set(changed_fields(base)).intersection(
        *(
            unread_fields(name, base.sparse.strategy, base.reweight.conflict_source)
            for name in method_names
        )
    )
    if ignored:
        field = sorted(ignored)[0]
        strategy = f" with strategy {base.sparse.strategy!r}" if field.startswith("sparse.") else ""
        raise RestError(
            f"--{field.split('.')[1].replace('_', '-')} is read by none of the methods "
            f"swept ({', '.join(method_names)}){strategy}; drop it or sweep a method that reads it"
        )
    out = Path(out)
    runs: dict[str, SweepRun] = {}
    for seed in seed_values:
        for pct in pct_values:
            for method in method_names:
                method_densities = density_values if METHODS.get(method).sparse else [1.0]
                for density in method_densities:
                    config = _config_for(base, method, density, pct, seed)
                    name = run_name(config)
                    runs.setdefault(name, SweepRun(config, out / name))
    return list(runs.values())


def train_run(config: dict[str, Any], path: str) -> str | None:
    """The job of one run: train it (resuming it if it was interrupted).

    Returns None once trained, or the refusal line when another process holds the
    run's lock (a second sweep on the same directory); anything else raises.
    """
    from rest import api

    try:
        api.train(config, out=path, resume=True, progress=False)
    except RunLocked as error:
        return str(error)
    return None


class _FailureLog:
    """``failures.jsonl``: the last failure of every run that has not succeeded since."""

    def __init__(self, out: Path) -> None:
        self.path = out / FAILURES_FILE

    def forget(self, names: set[str]) -> None:
        """Drop the records of runs about to be retried."""
        if not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("run") not in names:
                kept.append(line + "\n")
        if kept:
            atomic_write(self.path, lambda tmp: tmp.write_text("".join(kept)))
        else:
            self.path.unlink()

    def add(self, run: SweepRun, error: str, details: str | None) -> None:
        record: dict[str, Any] = {
            "run": run.name,
            "path": str(run.path),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "error": error,
        }
        if details:
            record["traceback"] = details
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def run_sweep(
    base: TrainConfig,
    methods: Sequence[str] | None = None,
    densities: Sequence[float | str] | None = None,
    conflict_pcts: Sequence[float | str] | None = None,
    seeds: Sequence[int | str] | None = None,
    out: str | Path = "runs",
    workers: int = 1,
    progress: bool = True,
    launcher: Launcher | None = None,
    launcher_name: str = "local",
) -> list[SweepResult]:
    """Train every run of the sweep that has not finished; one result per run, in plan order.

    ``launcher`` (default: a :class:`~rest.launch.LocalLauncher` with ``workers``
    processes, each with ``cores // workers`` torch threads; ``workers=0`` trains in
    this process, one run after another, and the peak memory a summary records then
    covers every run trained so far) runs one job per unfinished run.
    ``launcher_name`` is recorded for ``rest sweep --status``.
    """
    out = Path(out)
    if launcher is None:
        launcher = LocalLauncher(workers, out / LAUNCH_DIR / "logs")
    runs = plan_sweep(base, methods, densities, conflict_pcts, seeds, out)
    results = {run.name: SweepResult(run, "skipped") for run in runs if run.state == "finished"}
    todo = [run for run in runs if run.name not in results]
    failures = _FailureLog(out)
    failures.forget({run.name for run in todo})
    bar = tqdm(
        total=len(runs),
        initial=len(results),
        desc="sweep",
        unit="run",
        postfix={"failed": 0},
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    by_name = {run.name: run for run in todo}
    failed = 0

    def finished(job: JobResult) -> None:
        nonlocal failed
        run = by_name[job.name]
        if job.error is not None:
            failed += 1
            failures.add(run, job.error, job.details)
            results[run.name] = SweepResult(run, "failed", job.error)
            if progress:
                tqdm.write(f"failed: {run.name}: {job.error}", file=sys.stderr)
        elif job.value is not None:  # refused: another process holds the run's lock
            results[run.name] = SweepResult(run, "busy", job.value)
        else:
            results[run.name] = SweepResult(run, "trained")
        bar.update(1)
        bar.set_postfix(failed=failed)

    jobs = [Job(run.name, train_run, (run.config.to_dict(), str(run.path))) for run in todo]
    try:
        with SweepQueue(out, launcher_name, [run.name for run in todo]):
            launcher.run(jobs, finished)
    finally:
        bar.close()
    return [results[run.name] for run in runs]
