"""The trial worker: ask the shared study for a trial, train it, tell the result.

:func:`run_trials` is a plain, picklable function that needs nothing but the
tuning directory, so any number of copies can run at once -- in local
processes, on several GPUs, or as Slurm array tasks on a shared filesystem. The
budget is shared through the study: under a lock a worker counts the trials
already finished, running or failed and asks for a new one only while that
count is below the budget, so the budget is never exceeded however many workers
run or how often the command is rerun.

A worker that dies leaves its trial RUNNING. Every running trial has a
heartbeat file the worker touches while it trains; a trial whose heartbeat is
older than ``STALE_SECONDS`` is marked failed (``abandoned``, not counted) and
its parameters are enqueued again, so the next worker resumes the same run
directory instead of starting over.

The objective is read from the validation split only: the selected epoch's
validation metric for the value, each epoch's validation metric for pruning.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from rest.config import TrainConfig, replace
from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.naming import run_name
from rest.sweep import method_config
from rest.tune.spaces import suggest
from rest.tune.study import TuneDirectory, TuneSettings, study_name

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 300.0


def objective_metric(settings: TuneSettings, splits: BiasedSplits) -> str:
    """The validation metric maximised: worst-group with bias labels, else accuracy."""
    if splits.valid is None:
        raise RestError(
            f"dataset {splits.name!r} has no validation split; tuning selects on validation "
            "only, never on test -- give the dataset a validation split"
        )
    has_bias = splits.valid.has_bias_labels
    if settings.objective == "auto":
        return "worst_group" if has_bias else "accuracy"
    if settings.objective != "accuracy" and not has_bias:
        raise RestError(
            f"--objective {settings.objective} needs bias labels on the validation split of "
            f"{splits.name!r}; use --objective accuracy"
        )
    return settings.objective


def trial_config(base: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """``base`` with the trial's tuned fields (dotted paths) set."""
    return replace(base, **params)


def _open_study(storage: Any, settings: TuneSettings, name: str, seed: int) -> Any:
    import optuna

    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if settings.pruner == "median":
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=2, n_warmup_steps=settings.prune_warmup_epochs
        )
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)
    return optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


def counted_trials(study: Any) -> int:
    """Trials that use up the budget: all but those abandoned by a dead worker."""
    return sum(
        1 for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("abandoned", False)
    )


def _abandon(storage: Any, study: Any, trial: Any) -> None:
    """Fail a trial without counting it, and enqueue its parameters for the next worker
    (which resumes the same run directory: its name follows from the parameters)."""
    from optuna.trial import TrialState

    storage.set_trial_user_attr(trial._trial_id, "abandoned", True)
    storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    study.enqueue_trial(trial.params, skip_if_exists=False)


def _recover_stale(directory: TuneDirectory, storage: Any, study: Any, name: str) -> None:
    """Abandon the running trials of dead workers (heartbeat older than STALE_SECONDS)."""
    from optuna.trial import TrialState

    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        beat = directory.heartbeat(name, trial.number)
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        last = beat.stat().st_mtime if beat.is_file() else started
        if now - last <= STALE_SECONDS:
            continue
        _abandon(storage, study, trial)


def _ask(directory: TuneDirectory, storage: Any, study: Any, name: str, budget: int) -> Any | None:
    """A new trial, or None once the budget is used up (counted under the lock)."""
    from optuna.trial import TrialState

    lock = directory.budget_lock()
    lock.acquire()
    try:
        _recover_stale(directory, storage, study, name)
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not waiting and counted_trials(study) >= budget:
            return None
        return study.ask()
    finally:
        lock.release()


class _Heartbeat:
    """Touches a file every ``HEARTBEAT_SECONDS`` while a trial trains."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.path.touch()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)


def _train_trial(
    directory: TuneDirectory,
    trial: Any,
    base: TrainConfig,
    name: str,
    metric: str,
    splits: BiasedSplits,
) -> float:
    """Train one trial in its run directory; raises ``optuna.TrialPruned`` when pruned."""
    import optuna

    from rest.engine import fit

    params = suggest(base.method, trial)
    config = trial_config(base, params)
    path = directory.trials(name) / run_name(config)
    trial.set_user_attr("run", str(path.relative_to(directory.path)))

    def report(record: dict[str, Any]) -> None:
        trial.report(float(record["valid"][metric]), record["epoch"])
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {record['epoch']}")

    summary = fit(config, splits, path, resume=True, show_progress=False, on_epoch=report)
    valid = summary["selected"]["valid"]
    trial.set_user_attr("valid_accuracy", float(valid["accuracy"]))  # breaks ties, as epochs
    return float(valid[metric])


def run_trials(
    tune_dir: str | Path,
    method: str,
    density: float,
    n_trials: int,
    worker: int = 0,
    splits: BiasedSplits | None = None,
) -> int:
    """Run trials of ``method`` at ``density`` until its study holds ``n_trials``.

    ``worker`` distinguishes workers started together (it seeds the sampler). The
    data are loaded from the base config unless ``splits`` is given (tests). Returns
    the number of trials this call trained.
    """
    import optuna
    from optuna.trial import TrialState

    from rest.data import load_dataset

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directory = TuneDirectory(tune_dir)
    settings = directory.open()
    base = method_config(settings.base_config, method, density)
    name = study_name(method, density)
    splits = splits if splits is not None else load_dataset(base.data)
    metric = objective_metric(settings, splits)
    storage = directory.storage()
    probe = _open_study(storage, settings, name, seed=0)
    probe.set_user_attr("objective", metric)
    probe.set_user_attr("method", method)
    probe.set_user_attr("density", base.sparse.density)
    # Seeded by worker and progress: reproducible when run alone, and a resumed or
    # parallel worker does not redraw the trials another one already drew.
    seed = settings.sampler_seed + 1000 * worker + len(probe.get_trials(deepcopy=False))
    study = _open_study(storage, settings, name, seed=seed)
    trained = 0
    while (trial := _ask(directory, storage, study, name, n_trials)) is not None:
        with _Heartbeat(directory.heartbeat(name, trial.number)):
            try:
                value = _train_trial(directory, trial, base, name, metric, splits)
            except optuna.TrialPruned:
                study.tell(trial, state=TrialState.PRUNED)
            except RestError as error:  # e.g. a diverged learning rate: a real outcome
                trial.set_user_attr("error", str(error))
                study.tell(trial, state=TrialState.FAIL)
            except Exception as error:  # a bug: record it, then let it surface
                trial.set_user_attr("error", f"{type(error).__name__}: {error}")
                study.tell(trial, state=TrialState.FAIL)
                raise
            except KeyboardInterrupt:  # stopped by the user: the next run resumes it
                _abandon(storage, study, trial)
                raise
            else:
                study.tell(trial, value)
        trained += 1
        _say_done(study, name, trial.number, metric, n_trials)
    return trained


def _say_done(study: Any, name: str, number: int, metric: str, budget: int) -> None:
    """One progress line per finished trial (workers train silently otherwise)."""
    frozen = study.get_trials(deepcopy=False)[number]
    value = "" if frozen.value is None else f", valid {metric} {frozen.value:.3f}"
    done = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished())
    print(
        f"{name}: trial {number} {frozen.state.name.lower()}{value} ({done}/{budget} finished)",
        file=sys.stderr,
        flush=True,
    )
