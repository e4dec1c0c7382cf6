"""Sweeps: the run grid, skipping finished runs, recording failures, input errors, and
one tiny real sweep through worker processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rest.api
from rest.cli import main
from rest.config import TrainConfig, replace
from rest.errors import RestError
from rest.naming import run_name
from rest.report import write_report
from rest.runs import write_json
from rest.sparse.config import SparseConfig
from rest.sweep import FAILURES_FILE, plan_sweep, run_sweep


class FakeTrain:
    """Stands in for ``rest.api.train``: records calls, finishes the run, or fails for the
    methods in ``failing``."""

    def __init__(self, failing: dict[str, Exception] | None = None) -> None:
        self.failing = failing or {}
        self.calls: list[str] = []

    def __call__(self, config: Any, out: Any, resume: bool, progress: bool) -> dict[str, Any]:
        assert resume is True and progress is False
        config = TrainConfig.from_dict(config)
        self.calls.append(Path(out).name)
        if config.method in self.failing:
            raise self.failing[config.method]
        summary = {"status": "done", "method": config.method, "seed": config.run.seed}
        write_json(Path(out) / "summary.json", summary)
        return summary


@pytest.fixture
def fake_train(monkeypatch: pytest.MonkeyPatch) -> FakeTrain:
    fake = FakeTrain()
    monkeypatch.setattr(rest.api, "train", fake)
    return fake


def test_densities_cross_only_the_sparse_methods(tmp_path: Path) -> None:
    runs = plan_sweep(
        TrainConfig(), ["erm", "rest", "sparse"], ["0.1,0.05"], [1, 5], [1, 2], tmp_path
    )
    # 2 seeds x 2 ratios x (erm once + rest and sparse at 2 densities each)
    assert len(runs) == 20
    assert len({run.name for run in runs}) == 20
    erm = [run for run in runs if run.config.method == "erm"]
    assert len(erm) == 4
    assert {run.config.sparse.density for run in erm} == {1.0}
    assert {(run.config.data.conflict_pct, run.config.run.seed) for run in erm} == {
        (1.0, 1),
        (1.0, 2),
        (5.0, 1),
        (5.0, 2),
    }
    rest_densities = sorted(r.config.sparse.density for r in runs if r.config.method == "rest")
    assert rest_densities == [0.05] * 4 + [0.1] * 4
    for run in runs:
        assert run.path == tmp_path / run_name(run.config)
        assert run.state == "new"


def test_base_settings_reach_every_run_where_they_apply(tmp_path: Path) -> None:
    base = replace(
        TrainConfig(),
        **{"optim.epochs": 3, "sparse.strategy": "set", "reweight.conflict_source": "gce"},
    )
    runs = {run.config.method: run.config for run in plan_sweep(base, ["erm", "jtt", "rest"])}
    assert all(config.optim.epochs == 3 for config in runs.values())
    assert runs["rest"].sparse.strategy == "set"
    assert runs["rest"].reweight.conflict_source == "gce"
    assert runs["erm"].sparse == SparseConfig(density=1.0)
    assert runs["erm"].reweight.conflict_source is None
    assert runs["jtt"].reweight.conflict_source is None


def test_axes_default_to_the_base_config(tmp_path: Path) -> None:
    base = replace(TrainConfig(), **{"method": "sparse", "sparse.density": 0.2, "run.seed": 7})
    (run,) = plan_sweep(base, out=tmp_path)
    assert (run.config.method, run.config.sparse.density, run.config.run.seed) == ("sparse", 0.2, 7)
    assert run.config.data.conflict_pct == base.data.conflict_pct


def test_finished_runs_are_skipped_and_failures_recorded(
    tmp_path: Path, fake_train: FakeTrain
) -> None:
    fake_train.failing = {"jtt": RestError("no\n  conflicting samples"), "lff": ValueError("bug")}
    grid = {"methods": ["erm", "jtt", "lff"], "seeds": [1, 2], "out": tmp_path, "workers": 0}
    results = run_sweep(TrainConfig(), progress=False, **grid)
    assert len(fake_train.calls) == 6
    assert [(r.run.config.method, r.status) for r in results] == [
        ("erm", "trained"),
        ("jtt", "failed"),
        ("lff", "failed"),
    ] * 2
    assert results[1].error == "no conflicting samples"
    assert results[2].error == "ValueError: bug"
    assert results[0].summary == {"status": "done", "method": "erm", "seed": 1}
    records = [json.loads(line) for line in (tmp_path / FAILURES_FILE).read_text().splitlines()]
    assert sorted(r["run"] for r in records) == sorted(
        r.run.name for r in results if r.status == "failed"
    )
    by_method = {r["run"].split("-")[0]: r for r in records}
    assert by_method["jtt"]["error"] == "no conflicting samples"
    assert "traceback" not in by_method["jtt"]
    assert "ValueError: bug" in by_method["lff"]["traceback"]

    # Second invocation: finished runs are not trained again, failed ones are retried.
    fake_train.calls.clear()
    fake_train.failing = {"jtt": RestError("still failing")}
    results = run_sweep(TrainConfig(), progress=False, **grid)
    assert sorted(fake_train.calls) == sorted(
        r.run.name for r in results if r.run.config.method != "erm"
    )
    assert [r.status for r in results] == ["skipped", "failed", "trained"] * 2
    records = [json.loads(line) for line in (tmp_path / FAILURES_FILE).read_text().splitlines()]
    assert [r["error"] for r in records] == ["still failing"] * 2

    fake_train.calls.clear()
    fake_train.failing = {}
    results = run_sweep(TrainConfig(), progress=False, **grid)
    assert len(fake_train.calls) == 2
    assert not (tmp_path / FAILURES_FILE).exists()
    fake_train.calls.clear()
    assert all(r.status == "skipped" for r in run_sweep(TrainConfig(), progress=False, **grid))
    assert fake_train.calls == []


def test_cli_exit_code_and_failure_lines(tmp_path: Path, fake_train: FakeTrain, capsys) -> None:
    fake_train.failing = {"jtt": RestError("boom")}
    argv = ["sweep", "--methods", "erm,jtt", "--out", str(tmp_path), "--workers", "0"]
    assert main([*argv, "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "1 trained, 0 already finished, 1 failed" in out
    assert "failed: jtt-" in out and ": boom" in out
    fake_train.failing = {}
    assert main([*argv, "--no-progress"]) == 0
    assert "1 trained, 1 already finished, 0 failed" in capsys.readouterr().out


def test_dry_run_lists_runs_and_their_state(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "--methods", "erm", "rest", "--densities", "0.1", "0.05", "--out", str(out)]
    assert main([*argv, "--seeds", "3", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "3 runs in" in printed and "3 new" in printed
    assert not out.exists()
    runs = plan_sweep(TrainConfig(), ["erm", "rest"], [0.1, 0.05], None, [3], out)
    write_json(runs[0].path / "summary.json", {"status": "done"})
    write_json(runs[1].path / "config.json", runs[1].config.to_dict())
    assert main([*argv, "--seeds", "3", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "1 new, 1 to resume, 1 finished" in printed
    assert f"| {runs[0].name} " in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "erm", "nope"], "unknown method 'nope'; choose one of: erm, groupdro"),
        (["--methods", "rest", "--densities", "0.1", "1.5"], "'1.5' is outside (0, 1]"),
        (["--methods", "rest", "--densities", "0"], "'0' is outside (0, 1]"),
        (["--densities", "x"], "--densities: 'x' is not a valid value"),
        (["--seeds", "1", "two"], "--seeds: 'two' is not a valid value"),
        (
            ["--conflict-pcts", "1", "101"],
            "conflict_pct (--conflict-pct): expected a number in [0, 100]",
        ),
        (["--density", "0.1", "--densities", "0.2"], "give either --density or --densities"),
        (["--workers", "-1"], "--workers must be a non-negative integer"),
    ],
)
def test_bad_input_is_one_error_line(
    argv: list[str], message: str, tmp_path: Path, fake_train: FakeTrain, capsys
) -> None:
    assert main(["sweep", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rest: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert fake_train.calls == []


def test_failing_worker_processes_are_recorded(tmp_path: Path) -> None:
    base = replace(TrainConfig(), **{"data.dataset": str(tmp_path / "no-such-data")})
    results = run_sweep(base, ["erm", "jtt"], out=tmp_path / "sweep", workers=2, progress=False)
    assert [r.status for r in results] == ["failed", "failed"]
    assert all("no-such-data" in (r.error or "") for r in results)
    records = [
        json.loads(line) for line in (tmp_path / "sweep" / FAILURES_FILE).read_text().splitlines()
    ]
    assert sorted((r["run"], r["error"]) for r in records) == sorted(
        (r.run.name, r.error) for r in results
    )


def test_tiny_real_sweep_then_report(tmp_path: Path) -> None:
    """Two methods trained for one epoch, each in its own worker process, then collected."""
    base = TrainConfig.from_dict(
        {
            "data": {"dataset": "cmnist", "image_size": 8},
            "model": {"model": "mlp", "width": 8},
            "optim": {"epochs": 1, "batch_size": 512},
            "run": {"device": "cpu"},
        }
    )
    out = tmp_path / "sweep"
    grid = {"methods": ["erm", "rest"], "densities": [0.5], "seeds": [0], "out": out}
    results = run_sweep(base, workers=1, progress=False, **grid)
    assert [r.status for r in results] == ["trained", "trained"], [r.error for r in results]
    erm, rest_run = (r.summary for r in results)
    assert erm is not None and rest_run is not None
    assert (erm["method"], erm["sparse"]) == ("erm", None)
    assert (rest_run["method"], rest_run["density"]) == ("rest", 0.5)
    assert rest_run["size"]["nonzeros"] < erm["size"]["nonzeros"]
    assert [r.status for r in run_sweep(base, workers=1, progress=False, **grid)] == [
        "skipped",
        "skipped",
    ]
    report = write_report(out)
    assert [(g.method, g.density) for g in report.groups] == [("erm", 1.0), ("rest", 0.5)]
