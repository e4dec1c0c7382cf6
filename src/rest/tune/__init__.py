"""Hyperparameter search on validation only, with an equal budget per method.

:func:`tune` runs, for every method (and every density of the sparse ones), an
Optuna study of ``n_trials`` trials over the method's documented search space
(:mod:`rest.tune.spaces`), each trial a normal run directory; pruning stops
trials whose per-epoch validation metric is hopeless. It then picks each study's
best trial on validation, retrains it over the requested seeds beside the
published defaults (:mod:`rest.tune.rerun`), and writes the tuning table
(:mod:`rest.report.tuning`). Rerunning continues where it stopped and never
exceeds the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.launch import Job, Launcher, LocalLauncher
from rest.methods import METHODS
from rest.sweep_status import LAUNCH_DIR
from rest.tune.launch import run_jobs, trial_workers
from rest.tune.rerun import NoCompletedTrial, rerun_jobs, select, train_run, write_selection
from rest.tune.spaces import SEARCH_SPACES, Param, search_space
from rest.tune.study import TuneDirectory, TuneSettings
from rest.tune.trials import run_trials

__all__ = [
    "SEARCH_SPACES",
    "Param",
    "StudiesWithoutChoice",
    "TuneDirectory",
    "TuneResult",
    "TuneSettings",
    "run_trials",
    "search",
    "search_space",
    "tune",
]


@dataclass
class TuneResult:
    """Where the search wrote and what it chose."""

    report: Path
    table: str
    selected: Path


class StudiesWithoutChoice(RestError):
    """Some studies of a search have no completed trial; the others' choices are saved."""


def studies(methods: Sequence[str], densities: Sequence[float]) -> list[tuple[str, float]]:
    """(method, density) of every study: sparse methods cross the densities, dense run once."""
    pairs = []
    for method in methods:
        search_space(method)
        for density in densities if METHODS.get(method).sparse else [1.0]:
            if (method, density) not in pairs:
                pairs.append((method, density))
    return pairs


def search(
    settings: TuneSettings,
    out: str | Path,
    pairs: Sequence[tuple[str, float]],
    n_trials: int,
    workers: int = 0,
    splits: BiasedSplits | None = None,
    launcher: Launcher | None = None,
) -> list[dict[str, Any]]:
    """Run the study of every (method, density) in ``pairs`` up to ``n_trials`` trials,
    select each study's trial on validation and save the choices to ``selected.json``;
    return them. What :func:`tune` does before its reruns, for callers that train the
    chosen configurations themselves (the study of ``benchmarks/study.py``).

    A study none of whose trials completed (all pruned or failed) has no choice: the
    others are saved all the same, then one error names every study left without one.
    """
    directory, launcher = _open(settings, out, workers, launcher)
    return _search(directory, pairs, n_trials, launcher, splits)


def _open(
    settings: TuneSettings, out: str | Path, workers: int, launcher: Launcher | None
) -> tuple[TuneDirectory, Launcher]:
    """The tuning directory, opened with ``settings``, and the launcher of its jobs."""
    directory = TuneDirectory(out)
    directory.open(settings)  # before the launcher makes its log folder inside
    if launcher is None:
        launcher = LocalLauncher(workers, directory.path / LAUNCH_DIR / "logs")
    return directory, launcher


def _search(
    directory: TuneDirectory,
    pairs: Sequence[tuple[str, float]],
    n_trials: int,
    launcher: Launcher,
    splits: BiasedSplits | None,
) -> list[dict[str, Any]]:
    data = (splits,) if splits is not None else ()
    trial_jobs = [
        Job(
            f"trials-{method}-{density:g}-{worker}",
            run_trials,
            (str(directory.path), method, density, n_trials, worker, *data),
        )
        for method, density in pairs
        for worker in range(min(n_trials, trial_workers(launcher)))
    ]
    run_jobs(launcher, trial_jobs)
    selections, unchosen = [], []
    for method, density in pairs:
        try:
            selections.append(select(directory.path, method, density))
        except NoCompletedTrial as error:
            unchosen.append(error.study)
    write_selection(directory.path, selections)
    if unchosen:
        raise StudiesWithoutChoice(
            f"no trial completed (all pruned or failed) in {len(unchosen)} of {len(pairs)} "
            f"studies of {directory.path}: {', '.join(unchosen)}; the other choices are "
            f"saved in {directory.selected_path.name}; raise --trials or widen the budget"
        )
    return selections


def tune(
    settings: TuneSettings,
    out: str | Path,
    methods: Sequence[str],
    densities: Sequence[float],
    n_trials: int,
    seeds: Sequence[int],
    workers: int = 0,
    splits: BiasedSplits | None = None,
    launcher: Launcher | None = None,
) -> TuneResult:
    """Search, select on validation, rerun over ``seeds`` and write the report.

    Trials and reruns are jobs of ``launcher`` (:mod:`rest.launch`); without one,
    ``workers`` local processes train at once (0: this process). ``splits`` replaces
    the data of the config (tests, in this process only).
    """
    from rest.report.tuning import write_tuning_report

    directory, launcher = _open(settings, out, workers, launcher)
    data = (splits,) if splits is not None else ()
    selections = _search(directory, studies(methods, densities), n_trials, launcher, splits)
    jobs = [
        Job(
            "-".join(Path(path).relative_to(directory.path).parts),
            train_run,
            (config, path, *data),
        )
        for selection in selections
        for config, path in rerun_jobs(directory.path, settings.base_config, selection, seeds)
    ]
    run_jobs(launcher, jobs)
    report, table = write_tuning_report(directory.path)
    return TuneResult(report, table, directory.selected_path)
