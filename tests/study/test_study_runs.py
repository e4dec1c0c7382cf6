"""The study script end to end on tiny generated data: training, resuming, tuning
then training the tuned row, a cell left untuned, a run busy elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from study_testing import protocol, squash, study, tiny_fashion

from rest.runs import RunLock


def test_tune_dry_run_counts_the_search_and_bad_tune_flags_are_refused(tmp_path, capsys) -> None:
    argv = ["--budget", "gpu", "--datasets", "cfmnist", "--pcts", "1", "5", "--tune"]
    argv += ["--trials", "7", "--runs", str(tmp_path / "runs")]
    assert study.main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    # 2 ratios x (5 dense methods + sparse-only + REST's 6 densities) studies x 7 trials
    assert "tune: 2 part(s) x 12 studies x 7 trials = at most 168 trial runs" in out
    assert not (tmp_path / "runs").exists()  # a dry run writes nothing
    assert study.main([*argv, "--report-only"]) == 2
    assert "--tune trains" in capsys.readouterr().err
    typo = ["--budget", "gpu", "--dry-run", "--tuned", str(tmp_path / "tunes")]
    assert study.main(typo) == 2
    assert f"--tuned {tmp_path / 'tunes'} does not exist" in capsys.readouterr().err


# ---- end to end, on tiny generated data ----


def test_smoke_run_end_to_end_resumes_and_reports(tmp_path: Path, capsys) -> None:
    source = tiny_fashion(tmp_path / "fashion")
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "5", "--methods"]
    argv += ["reweight", "rest", "--densities", "0.1", "--seeds", "41", "42", "--rows", "default"]
    argv += ["--source", str(source), "--runs", str(runs), "--results", str(results)]
    argv += ["--device", "cpu", "--workers", "0"]
    assert study.main(argv) == 0
    summaries = sorted(runs.glob("default/cfmnist/*/summary.json"))
    assert len(summaries) == 4
    first = {path: path.stat().st_mtime_ns for path in summaries}
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["epochs"] == 1 and summary["config"]["model"]["width"] == 8
        assert summary["config"]["data"]["source"] == str(source)
    text = squash((results / "report.md").read_text())
    assert "budget `smoke`" in text
    assert "**PARTIAL**: 4 of 324 planned runs finished" in text
    assert "| cfmnist | 5 | default | 0.1 |" in text  # the verdict row
    assert f"--pcts 5 --source {source}" in text
    assert (results / "plots" / "cfmnist-5pct-conflicting-vs-density.png").is_file()
    # the sweep resumes: a second call trains nothing and rewrites the same report
    assert study.main(argv) == 0
    assert {path: path.stat().st_mtime_ns for path in summaries} == first
    assert "report:" in capsys.readouterr().out


def test_tune_then_tuned_row_end_to_end_and_resumed(tmp_path: Path, capsys) -> None:
    pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")
    source = tiny_fashion(tmp_path / "fashion")
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "5", "--methods", "erm"]
    argv += ["rest", "--densities", "0.1", "--seeds", "41", "--rows", "tuned", "--tune"]
    argv += ["--trials", "2", "--source", str(source), "--runs", str(runs)]
    argv += ["--results", str(results), "--device", "cpu", "--workers", "0"]
    assert study.main(argv) == 0
    selected = json.loads((runs / "tune" / "cfmnist-5pct" / "selected.json").read_text())
    assert set(selected) == {"erm", "rest-d0.1"}
    for choice in selected.values():
        assert sum(choice["trials"].values()) == 2
    summaries = sorted(runs.glob("tuned/cfmnist/*/summary.json"))
    assert len(summaries) == 2
    for path in summaries:
        config = json.loads(path.read_text())["config"]
        study_of = "erm" if config["method"] == "erm" else "rest-d0.1"
        for field, value in selected[study_of]["params"].items():
            section, name = field.split(".")
            assert config[section][name] == value, field  # the chosen value was trained
        assert config["optim"]["epochs"] == 1 and config["run"]["seed"] == 41
    report = squash((results / "report.md").read_text())
    assert "REST (tuned)" in report
    # a second call continues the studies up to --trials (none left) and trains nothing
    first = {path: path.stat().st_mtime_ns for path in summaries}
    assert study.main(argv) == 0
    again = json.loads((runs / "tune" / "cfmnist-5pct" / "selected.json").read_text())
    assert all(sum(c["trials"].values()) == 2 for c in again.values())
    assert {path: path.stat().st_mtime_ns for path in summaries} == first
    # a search with other settings is refused, not mixed into the same studies
    capsys.readouterr()
    assert study.main([*argv, "--tune-epochs", "3"]) == 2
    assert "other settings (base.optim.epochs: saved 1, now 3)" in capsys.readouterr().err


def test_a_cell_left_without_a_choice_does_not_hold_up_the_others(tmp_path: Path, capsys) -> None:
    """A study with no completed trial in one cell: the later cells are tuned, every saved
    choice is trained, and the command names the cell and exits 1."""
    optuna = pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from rest.tune import TuneDirectory

    source = tiny_fashion(tmp_path / "fashion")
    runs = tmp_path / "runs"
    # cfmnist 1%'s REST study spent its one trial on a failure before the search started
    failed = optuna.create_study(
        study_name="rest-d0.1",
        storage=TuneDirectory(runs / "tune" / "cfmnist-1pct").storage(),
        direction="maximize",
    )
    lr = FloatDistribution(1e-4, 1e-1, log=True)
    failed.add_trial(
        create_trial(
            state=TrialState.FAIL, params={"optim.lr": 0.05}, distributions={"optim.lr": lr}
        )
    )
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "1", "5", "--methods"]
    argv += ["erm", "rest", "--densities", "0.1", "--seeds", "41", "--rows", "tuned", "--tune"]
    argv += ["--trials", "1", "--source", str(source), "--runs", str(runs)]
    argv += ["--results", str(tmp_path / "results"), "--device", "cpu", "--workers", "0"]
    assert study.main(argv) == 1
    err = capsys.readouterr().err
    assert "not fully tuned: cfmnist 1%: no trial completed" in err and "rest-d0.1" in err
    chosen = {
        pct: set(json.loads((runs / "tune" / f"cfmnist-{pct}pct" / "selected.json").read_text()))
        for pct in (1, 5)
    }
    assert chosen == {1: {"erm"}, 5: {"erm", "rest-d0.1"}}
    trained = sorted(
        (s["config"]["data"]["conflict_pct"], s["config"]["method"])
        for s in map(json.loads, map(Path.read_text, runs.glob("tuned/cfmnist/*/summary.json")))
    )
    assert trained == [(1.0, "erm"), (5.0, "erm"), (5.0, "rest")]


def test_a_run_busy_in_another_process_is_reported_not_counted_done(tmp_path: Path, capsys) -> None:
    source = tiny_fashion(tmp_path / "fashion")
    runs = tmp_path / "runs"
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "5", "--methods", "erm"]
    argv += ["--seeds", "41", "--rows", "default", "--source", str(source), "--runs", str(runs)]
    argv += ["--results", str(tmp_path / "results"), "--device", "cpu", "--workers", "0"]
    selection = protocol.Selection(
        datasets=("cfmnist",), pcts=(5.0,), methods=("erm",), seeds=(41,), rows=("default",)
    )
    blocks, _ = protocol.plan_blocks(protocol.BUDGETS["smoke"], selection, runs, source=str(source))
    (planned,) = protocol.planned_runs(blocks)
    lock = RunLock(planned.path).acquire()  # as a second study training the same run
    try:
        assert study.main(argv) == 1
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "busy: " in err and "1 run(s) busy in another process" in err
    assert not (planned.path / "summary.json").exists()
    assert study.main(argv) == 0  # once it is free, the same command trains it
    assert (planned.path / "summary.json").is_file()
