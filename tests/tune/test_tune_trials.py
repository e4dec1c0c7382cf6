"""Trial workers: validation-only objective, budget and resume, stale trials, pruning."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from rest.config import TrainConfig
from rest.engine import fit
from rest.runs import RunDirectory
from rest.sweep import method_config
from rest.tune import TuneDirectory, TuneSettings, run_trials, tune
from rest.tune import trials as trials_module

from training_testing import make_splits, tiny_config

optuna = pytest.importorskip("optuna", reason="rest tune needs the tune extra (optuna)")
from optuna.trial import TrialState  # noqa: E402


def _settings(epochs: int = 1, **changes) -> TuneSettings:
    base = tiny_config("rest", optim={"epochs": epochs}, sparse={"density": 0.5})
    return TuneSettings(base=base.to_dict(), **changes)


def _study(path: Path, name: str):
    return optuna.load_study(study_name=name, storage=TuneDirectory(path).storage())


def _start(path: Path, settings: TuneSettings) -> Path:
    TuneDirectory(path).open(settings)
    return path


def test_objective_reads_validation_only(tmp_path: Path) -> None:
    """Scrambling the test split changes no trial's value, parameters or the choice."""
    splits = make_splits()
    scrambled = make_splits()
    test = scrambled.test
    scrambled.test = dataclasses.replace(
        test, targets=(test.targets + 1) % test.num_classes, images=torch.flip(test.images, [0])
    )
    results = []
    for name, data in (("plain", splits), ("scrambled", scrambled)):
        # accuracy: a metric that scrambling moves even for a barely trained model
        path = _start(tmp_path / name, _settings(pruner="none", objective="accuracy"))
        run_trials(path, "reweight", 1.0, 3, splits=data)
        study = _study(path, "reweight")
        results.append(([(t.params, t.value) for t in study.trials], study.best_trial.number))
    assert results[0] == results[1]


def test_resume_continues_up_to_the_budget_never_beyond(tmp_path: Path) -> None:
    path = _start(tmp_path / "tune", _settings())
    splits = make_splits()
    assert run_trials(path, "erm", 1.0, 2, splits=splits) == 2
    assert run_trials(path, "erm", 1.0, 2, splits=splits) == 0
    assert run_trials(path, "erm", 1.0, 3, worker=1, splits=splits) == 1
    assert len(_study(path, "erm").trials) == 3


def test_a_dead_workers_trial_is_retried_with_its_parameters(tmp_path, monkeypatch) -> None:
    path = _start(tmp_path / "tune", _settings())
    splits = make_splits()
    run_trials(path, "erm", 1.0, 1, splits=splits)
    study = _study(path, "erm")
    dead = study.ask()  # a worker that asked, drew parameters and died
    dead.suggest_float("optim.lr", 1e-4, 1e-1, log=True)
    dead.suggest_float("optim.weight_decay", 1e-6, 1e-2, log=True)
    dead.suggest_categorical("optim.batch_size", [32, 64, 128, 256])
    monkeypatch.setattr(trials_module, "STALE_SECONDS", -1.0)
    assert run_trials(path, "erm", 1.0, 2, splits=splits) == 1
    trials = _study(path, "erm").trials
    abandoned = [t for t in trials if t.user_attrs.get("abandoned")]
    assert [t.number for t in abandoned] == [dead.number]
    assert [t.state for t in trials if t not in abandoned] == [TrialState.COMPLETE] * 2
    assert trials[-1].params == abandoned[0].params
    # the abandoned trial does not use up the budget: a larger one trains one more
    assert run_trials(path, "erm", 1.0, 3, splits=splits) == 1


def test_equal_budget_per_method_and_the_choice_is_the_best_validation_trial(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tune"
    result = tune(_settings(), path, ["erm", "sparse"], [0.5], 2, seeds=[0], splits=make_splits())
    for name in ("erm", "sparse-d0.5"):
        study = _study(path, name)
        assert len(study.trials) == 2
    selected = TuneDirectory(path).selected_path.read_text()
    best = _study(path, "sparse-d0.5").best_trial
    assert f'"trial": {best.number}' in selected
    assert "erm (tuned)" in result.table and "sparse (defaults)" in result.table
    for kind in ("tuned", "defaults"):
        assert len(list((path / "reruns" / kind / "erm").glob("*/summary.json"))) == 1


def test_pruning_stops_a_hopeless_trial_and_leaves_a_resumable_run(tmp_path: Path) -> None:
    path = _start(tmp_path / "tune", _settings(epochs=3, objective="accuracy"))
    study = optuna.create_study(
        study_name="erm", storage=TuneDirectory(path).storage(), direction="maximize"
    )
    good = {"optim.lr": 0.05, "optim.weight_decay": 1e-6, "optim.batch_size": 32}
    hopeless = {"optim.lr": 1e-4, "optim.weight_decay": 1e-6, "optim.batch_size": 256}
    for params in (good, {**good, "optim.batch_size": 64}, hopeless):
        study.enqueue_trial(params)
    run_trials(path, "erm", 1.0, 3, splits=make_splits())
    trials = _study(path, "erm").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.PRUNED]
    run = RunDirectory(path / trials[2].user_attrs["run"])
    assert [r["epoch"] for r in run.read_metrics()] == [1]
    assert run.started and not run.finished and run.resume_state.is_file()
    config = TrainConfig.from_dict(json.loads(run.config_path.read_text()))
    summary = fit(config, make_splits(), run.path, resume=True, show_progress=False)
    assert summary["epochs"] == 3 and len(run.read_metrics()) == 3


def test_resuming_with_other_search_settings_is_refused(tmp_path: Path) -> None:
    from rest.errors import RestError

    path = _start(tmp_path / "tune", _settings())
    with pytest.raises(RestError, match="objective"):
        TuneDirectory(path).open(_settings(objective="accuracy"))


def test_method_config_keeps_density_an_axis() -> None:
    base = tiny_config("rest", sparse={"density": 0.3})
    assert method_config(base, "rest", 0.05).sparse.density == 0.05
    assert method_config(base, "reweight", 0.05).sparse.density == 1.0


def test_selection_breaks_objective_ties_by_validation_accuracy(tmp_path: Path) -> None:
    from optuna.distributions import FloatDistribution

    from rest.tune.rerun import select

    path = _start(tmp_path / "tune", _settings())
    study = optuna.create_study(
        study_name="erm", storage=TuneDirectory(path).storage(), direction="maximize"
    )
    lr = FloatDistribution(1e-4, 1e-1, log=True)
    for number, (value, accuracy) in enumerate([(0.0, 0.3), (0.0, 0.6), (0.0, 0.4)]):
        study.add_trial(
            optuna.trial.create_trial(
                params={"optim.lr": 0.001 * (number + 1)},
                distributions={"optim.lr": lr},
                value=value,
                user_attrs={"valid_accuracy": accuracy},
            )
        )
    choice = select(path, "erm", 1.0)
    assert choice["trial"] == 1 and choice["params"] == {"optim.lr": 0.002}
    assert [entry["state"] for entry in choice["history"]] == ["complete"] * 3


def test_a_study_without_a_completed_trial_leaves_the_others_chosen(tmp_path: Path) -> None:
    """search() saves every choice it can and names the studies that have none."""
    from optuna.distributions import FloatDistribution

    from rest.tune import StudiesWithoutChoice, search

    path = _start(tmp_path / "tune", _settings())
    # the sparse study's whole budget (1 trial) is already spent on a failed trial
    failed = optuna.create_study(
        study_name="sparse-d0.5", storage=TuneDirectory(path).storage(), direction="maximize"
    )
    failed.add_trial(
        optuna.trial.create_trial(
            state=TrialState.FAIL,
            params={"optim.lr": 0.05},
            distributions={"optim.lr": FloatDistribution(1e-4, 1e-1, log=True)},
        )
    )
    pairs = [("sparse", 0.5), ("erm", 1.0)]
    with pytest.raises(StudiesWithoutChoice, match=r"1 of 2 studies .*: sparse-d0\.5;"):
        search(_settings(), path, pairs, 1, splits=make_splits())
    selected = json.loads(TuneDirectory(path).selected_path.read_text())
    assert set(selected) == {"erm"}
    assert selected["erm"]["trials"]["complete"] == 1
