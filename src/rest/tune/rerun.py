"""Select each study's trial on validation, then rerun it (and the defaults) over seeds.

The chosen trial is the completed trial with the best objective value -- a
validation metric, never a test one -- ties going to validation accuracy. Its
configuration is trained again once per requested seed under
``reruns/tuned/<study>``, and the same method at the published defaults (the base
config) under ``reruns/defaults/<study>``, so the report compares both on the same
seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rest.config import TrainConfig, replace
from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.naming import run_name
from rest.runs import read_json, write_json
from rest.sweep import method_config
from rest.tune.study import TuneDirectory, study_name
from rest.tune.trials import trial_config


class NoCompletedTrial(RestError):
    """A study has nothing to choose from: every trial was pruned or failed."""

    def __init__(self, study: str, tune_dir: Path) -> None:
        super().__init__(
            f"no trial of {study!r} in {tune_dir} completed (all pruned or failed); "
            "raise --trials or widen the budget"
        )
        self.study = study


def select(tune_dir: str | Path, method: str, density: float) -> dict[str, Any]:
    """The trial of ``method`` at ``density`` chosen on validation, with the study's tally."""
    import optuna
    from optuna.trial import TrialState

    directory = TuneDirectory(tune_dir)
    name = study_name(method, density)
    try:
        study = optuna.load_study(study_name=name, storage=directory.storage())
    except KeyError:
        raise RestError(f"{directory.path} has no study {name!r}; run rest tune first") from None
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise NoCompletedTrial(name, directory.path)
    # Ties on the objective (worst-group accuracy often is 0 early on) go to validation
    # accuracy, as the epoch selection of a run does, then to the earlier trial.
    best = max(
        complete,
        key=lambda t: (t.value, t.user_attrs.get("valid_accuracy", -math.inf), -t.number),
    )
    states = [t.state for t in trials if not t.user_attrs.get("abandoned", False)]
    return {
        "study": name,
        "method": method,
        "density": study.user_attrs.get("density", density),
        "objective": "valid " + str(study.user_attrs.get("objective")),
        "trial": best.number,
        "value": best.value,
        "params": best.params,
        "run": best.user_attrs.get("run"),
        "trials": {
            "complete": states.count(TrialState.COMPLETE),
            "pruned": states.count(TrialState.PRUNED),
            "failed": states.count(TrialState.FAIL),
        },
        "history": [
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "last_epoch": t.last_step,
                "params": t.params,
            }
            for t in trials
            if not t.user_attrs.get("abandoned", False)
        ],
    }


def write_selection(tune_dir: str | Path, selections: Sequence[dict[str, Any]]) -> Path:
    """Merge ``selections`` into ``selected.json`` (keyed by study); return its path."""
    directory = TuneDirectory(tune_dir)
    saved = read_json(directory.selected_path) if directory.selected_path.is_file() else {}
    saved.update({s["study"]: s for s in selections})
    write_json(directory.selected_path, saved)
    return directory.selected_path


def rerun_jobs(
    tune_dir: str | Path, base: TrainConfig, selection: dict[str, Any], seeds: Sequence[int]
) -> list[tuple[dict[str, Any], str]]:
    """(config dict, run directory) of the tuned and the defaults runs of one study."""
    directory = TuneDirectory(tune_dir)
    defaults = method_config(base, selection["method"], selection["density"])
    tuned = trial_config(defaults, selection["params"])
    jobs = []
    for kind, config in (("tuned", tuned), ("defaults", defaults)):
        for seed in seeds:
            seeded = replace(config, **{"run.seed": int(seed)})
            path = directory.reruns(kind, selection["study"]) / run_name(seeded)
            jobs.append((seeded.to_dict(), str(path)))
    return jobs


def train_run(config: dict[str, Any], path: str, splits: BiasedSplits | None = None) -> str:
    """Train (or resume, or skip if finished) one rerun on the config's data, or on
    ``splits`` when given (tests); returns its directory."""
    from rest.data import load_dataset
    from rest.engine import fit

    train_config = TrainConfig.from_dict(config)
    data = splits if splits is not None else load_dataset(train_config.data)
    fit(train_config, data, path, resume=True, show_progress=False)
    return path
