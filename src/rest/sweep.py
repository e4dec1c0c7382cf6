"""Sweeps: one base config crossed with methods, densities, conflict ratios and seeds.

Every run lands in ``OUT/<run_name(config)>``, a readable name ending in a hash of
the whole config, so running the same sweep again finds each finished run (its
``summary.json``) and trains nothing, continues the interrupted ones from their
saved state, and retries the ones that failed. Densities are crossed with the
sparse methods only: a dense method runs once per (conflict ratio, seed).

Each run trains in a fresh worker process (``spawn``), so a crash, a leak or the
peak-memory figure of one run never touches another, and the torch threads of the
machine are shared out between the workers. A failing run is logged to
``OUT/failures.jsonl`` and the sweep carries on.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rest.applicability import changed_fields, unread_fields
from rest.config import TrainConfig, replace
from rest.errors import RestError
from rest.methods import METHODS
from rest.naming import run_name
from rest.runs import RunDirectory, atomic_write
from rest.sparse.config import SparseConfig

FAILURES_FILE = "failures.jsonl"

# What a worker reports back: (error line, traceback or None); None means it trained.
Outcome = tuple[str, str | None] | None


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
    """What became of one run: ``trained`` now, ``skipped`` (finished before), or ``failed``."""

    run: SweepRun
    status: str
    error: str | None = None

    @property
    def summary(self) -> dict[str, Any] | None:
        if self.status == "failed":
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


def _train(config: dict[str, Any], path: str) -> Outcome:
    """Train one run (resuming it if it was interrupted); a failure becomes its error line."""
    from rest import api

    try:
        api.train(config, out=path, resume=True, progress=False)
    except RestError as error:
        return str(error), None
    except Exception as error:  # a bug: keep the traceback for failures.jsonl
        name, lines = type(error).__name__, str(error).strip().splitlines()
        return (f"{name}: {lines[0]}" if lines else name), traceback.format_exc()
    return None


def _worker(config: dict[str, Any], path: str, threads: int, channel: Connection) -> None:
    """Entry point of a worker process: train, report the outcome, exit."""
    import torch

    torch.set_num_threads(threads)
    try:
        channel.send(_train(config, path))
    except KeyboardInterrupt:
        pass  # the parent is stopping the sweep; the run resumes next time
    finally:
        channel.close()


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _run_in_workers(
    runs: Sequence[SweepRun], workers: int, finished: Callable[[SweepRun, Outcome], None]
) -> None:
    """Keep up to ``workers`` fresh processes busy; ``finished`` is called in the parent."""
    context = multiprocessing.get_context("spawn")
    threads = max(1, _cores() // workers)
    pending = deque(runs)
    active: dict[Connection, tuple[Any, SweepRun]] = {}
    try:
        while pending or active:
            while pending and len(active) < workers:
                run = pending.popleft()
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_worker,
                    args=(run.config.to_dict(), str(run.path), threads, send),
                    name=f"rest-sweep:{run.name}",
                )
                process.start()
                send.close()  # the child holds the only writer: its exit reads as EOF here
                active[receive] = (process, run)
            for receive in wait(list(active)):
                process, run = active.pop(receive)  # type: ignore[index]
                try:
                    outcome: Outcome = receive.recv()  # type: ignore[union-attr]
                except EOFError:  # it died before reporting (killed, out of memory, crashed)
                    process.join()
                    outcome = (f"worker process died (exit code {process.exitcode})", None)
                receive.close()  # type: ignore[union-attr]
                process.join()
                finished(run, outcome)
    finally:
        for process, _run in active.values():
            process.terminate()
        for process, _run in active.values():
            process.join()


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
) -> list[SweepResult]:
    """Train every run of the sweep that has not finished; one result per run, in plan order.

    ``workers`` processes train at once, each with ``cores // workers`` torch threads;
    ``workers=0`` trains in this process, one run after another (for debugging; the peak
    memory a summary records then covers every run trained so far).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise RestError(f"--workers must be a non-negative integer, got {workers!r}")
    runs = plan_sweep(base, methods, densities, conflict_pcts, seeds, out)
    results = {run.name: SweepResult(run, "skipped") for run in runs if run.state == "finished"}
    todo = [run for run in runs if run.name not in results]
    failures = _FailureLog(Path(out))
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
    failed = 0

    def finished(run: SweepRun, outcome: Outcome) -> None:
        nonlocal failed
        if outcome is None:
            results[run.name] = SweepResult(run, "trained")
        else:
            error, details = outcome
            failed += 1
            failures.add(run, error, details)
            results[run.name] = SweepResult(run, "failed", error)
            if progress:
                tqdm.write(f"failed: {run.name}: {error}", file=sys.stderr)
        bar.update(1)
        bar.set_postfix(failed=failed)

    try:
        if workers == 0:
            for run in todo:
                finished(run, _train(run.config.to_dict(), str(run.path)))
        else:
            _run_in_workers(todo, workers, finished)
    finally:
        bar.close()
    return [results[run.name] for run in runs]
