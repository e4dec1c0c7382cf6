"""``rest tune`` on the sweep launchers: trial workers and reruns are launcher jobs (local
processes, Slurm array tasks sharing the tuning directory), and a failed job is an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rest.cli import main
from rest.errors import RestError
from rest.launch import Job, LocalLauncher
from rest.sweep_status import LAUNCH_DIR, SLURM_DIR
from rest.tune import TuneDirectory
from rest.tune.launch import run_jobs

optuna = pytest.importorskip("optuna", reason="rest tune needs the tune extra (optuna)")

TINY = [
    *("--dataset", "cmnist", "--image-size", "8", "--model", "mlp", "--width", "8"),
    *("--device", "cpu", "--lr", "0.05", "--scheduler", "none", "--batch-size", "512"),
    *("--epochs", "1", "--method", "erm", "--trials", "2", "--seeds", "0"),
]


def _tune(out: Path, *launch: str) -> dict:
    assert main(["tune", *TINY, "--out", str(out), *launch]) == 0
    selected = json.loads(TuneDirectory(out).selected_path.read_text())["erm"]
    study = optuna.load_study(study_name="erm", storage=TuneDirectory(out).storage())
    assert len(study.trials) == 2
    best = max(study.trials, key=lambda t: (t.value, t.user_attrs.get("valid_accuracy")))
    assert selected["trial"] == best.number and selected["params"] == best.params
    for kind in ("tuned", "defaults"):
        assert len(list((out / "reruns" / kind / "erm").glob("*/summary.json"))) == 1
    return selected


def test_local_workers_run_trials_and_reruns_as_launcher_jobs(tmp_path: Path) -> None:
    """--launcher local --workers 2: two trial workers and both reruns, each a job with its
    own log; the choice is the study's best validation trial, as in this process."""
    _tune(tmp_path / "processes", "--launcher", "local", "--workers", "2")
    logs = {p.name for p in (tmp_path / "processes" / LAUNCH_DIR / "logs").glob("*.log")}
    assert {"trials-erm-1-0.log", "trials-erm-1-1.log"} <= logs
    assert sorted(name.split("-erm-")[0] for name in logs if name.startswith("reruns-")) == [
        "reruns-defaults",
        "reruns-tuned",
    ]
    _tune(tmp_path / "here", "--workers", "0")
    assert not (tmp_path / "here" / LAUNCH_DIR / "logs").exists()


def test_a_failed_job_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    launcher = LocalLauncher(0, tmp_path / "logs")
    jobs = [Job("fine", int, ("3",)), Job("broken", int, ("three",))]
    with pytest.raises(RestError, match=r"^tune job broken failed: ValueError: invalid literal"):
        run_jobs(launcher, jobs)
    assert run_jobs(launcher, jobs[:1]) == [3]


def test_tune_flags_of_another_launcher_are_refused(tmp_path: Path, capsys) -> None:
    argv = ["tune", *TINY, "--out", str(tmp_path / "t"), "--launcher", "slurm", "--workers", "2"]
    assert main(argv) != 0
    assert "--workers does not apply to --launcher slurm" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_tune_runs_as_slurm_array_tasks_sharing_the_study(slurm, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    _tune(out, "--launcher", "slurm", "--slurm-cpus-per-run", "1")
    assert (out / LAUNCH_DIR / SLURM_DIR / "jobs.json").is_file()
    assert (out / "report.md").is_file()
