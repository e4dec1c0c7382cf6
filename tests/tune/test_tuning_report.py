"""The tuning table on hand-made tuning directories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rest.cli import main
from rest.config import TrainConfig
from rest.report.tuning import collect_tuning, write_tuning_report


def _summary(seed: int, valid_worst: float, test_conflicting: float, lr: float) -> dict:
    config = TrainConfig(method="reweight").to_dict()
    config["optim"]["lr"] = lr
    test = {"conflicting": test_conflicting, "unbiased": 0.5, "worst_group": 0.2, "accuracy": 0.9}
    return {
        "method": "reweight",
        "seed": seed,
        "config": config,
        "reweight": {"lambda_up": 30.0},
        # the last epoch holds other numbers: the table must read the selected one
        "selected": {"epoch": 2, "valid": {"worst_group": valid_worst}, "test": test},
        "last": {"epoch": 3, "valid": {"worst_group": 0.0}, "test": {"conflicting": 0.0}},
    }


def _write(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


@pytest.fixture
def tune_dir(tmp_path: Path) -> Path:
    params = {
        "optim.lr": 0.0321,
        "optim.weight_decay": 1e-5,
        "optim.batch_size": 64,
        "reweight.lambda_up": 42.0,
    }
    selection = {
        "study": "reweight",
        "method": "reweight",
        "density": 1.0,
        "objective": "valid worst_group",
        "trial": 3,
        "value": 0.5,
        "params": params,
        "trials": {"complete": 4, "pruned": 1, "failed": 1},
        "history": [
            {"trial": 3, "state": "complete", "value": 0.5, "last_epoch": 3, "params": params},
            {"trial": 4, "state": "pruned", "value": None, "last_epoch": 1, "params": params},
        ],
    }
    _write(tmp_path / "selected.json", {"reweight": selection})
    runs = tmp_path / "reruns"
    for seed, (valid, test) in enumerate([(0.4, 0.30), (0.6, 0.50)]):
        _write(runs / f"tuned/reweight/r{seed}/summary.json", _summary(seed, valid, test, 0.0321))
        _write(runs / f"defaults/reweight/r{seed}/summary.json", _summary(seed, 0.1, 0.10, 0.01))
    return tmp_path


def test_rows_hold_the_chosen_and_the_default_values_with_mean_and_std(tune_dir) -> None:
    tuned, defaults = collect_tuning(tune_dir)
    assert (tuned.kind, defaults.kind) == ("tuned", "defaults")
    assert tuned.params["optim.lr"] == 0.0321 and tuned.params["reweight.lambda_up"] == 42.0
    # the defaults row shows what the default runs trained with (lambda_up resolved)
    assert defaults.params["optim.lr"] == 0.01 and defaults.params["reweight.lambda_up"] == 30.0
    assert tuned.test("conflicting").format() == "40.0 ± 14.1"
    assert tuned.valid().format() == "50.0 ± 14.1"
    assert defaults.test("conflicting").format() == "10.0 ± 0.0"


def test_the_report_states_choices_trials_and_test_metrics(tune_dir) -> None:
    path, table = write_tuning_report(tune_dir)
    lines = table.splitlines()
    tuned = next(line for line in lines if "reweight (tuned)" in line)
    defaults = next(line for line in lines if "reweight (defaults)" in line)
    assert "lr=0.0321" in tuned and "lambda_up=42" in tuned and "4/1/1" in tuned
    assert "40.0 ± 14.1" in tuned and "10.0 ± 0.0" in defaults and "lr=0.01" in defaults
    text = path.read_text()
    assert table in text and "validation split only" in text and "optim.lr" in text
    assert "## Trials of reweight (chosen: trial 3)" in text
    assert any(re.match(r"\| +4 \| pruned +\| +- \| +1 \|", line) for line in text.splitlines())


def test_cli_report_and_bad_input(tune_dir, tmp_path, capsys) -> None:
    assert main(["tune", "--report", "--out", str(tune_dir)]) == 0
    assert "reweight (tuned)" in capsys.readouterr().out
    assert main(["tune", "--report", "--out", str(tmp_path / "missing")]) != 0
    assert "no selected.json" in capsys.readouterr().err
    assert main(["tune", "--trials", "0", "--out", str(tmp_path / "t")]) != 0
    assert "--trials must be at least 1" in capsys.readouterr().err
