"""One study slot on a machine that is handed back (benchmarks/study_slot.sh): run,
stop at a deadline, pack what finished so the next slot continues it."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from study_testing import SLOT, squash, study, tiny_fashion


def _slot(seconds: int, runs: Path, bundle: Path, *study_args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    argv = ["bash", str(SLOT), str(seconds), str(runs), str(bundle), *study_args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def _members(bundle: Path) -> list[str]:
    with tarfile.open(bundle) as archive:
        return sorted(m.name.removeprefix("./") for m in archive.getmembers() if m.isfile())


def test_slot_packs_finished_runs_and_a_later_slot_skips_them(tmp_path: Path) -> None:
    source = tiny_fashion(tmp_path / "fashion")
    runs, bundle = tmp_path / "runs", tmp_path / "out" / "study.tar.gz"
    study_args = ["--budget", "smoke", "--device", "cpu", "--workers", "0"]
    study_args += ["--datasets", "cfmnist", "--pcts", "5", "--methods", "erm", "rest"]
    study_args += ["--densities", "0.1", "--seeds", "41", "--rows", "default"]
    study_args += ["--source", str(source), "--results", str(tmp_path / "results")]
    done = _slot(600, runs, bundle, *study_args)
    assert done.returncode == 0, done.stderr
    assert "2 finished run(s) and 0 finished trial(s) packed" in done.stdout
    members = _members(bundle)
    names = sorted({Path(m).name for m in members})
    assert names == ["config.json", "log.txt", "metrics.jsonl", "summary.json"]
    assert len(members) == 8 and all(m.startswith("default/cfmnist/") for m in members)
    assert sum(path.stat().st_size for path in runs.rglob("*.pt")) > 0  # left behind

    # back home: the bundle alone rebuilds the report, and resumes the next slot
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["tar", "-xzf", str(bundle), "-C", str(home)], check=True)
    results = tmp_path / "home-results"
    argv = ["--budget", "smoke", "--report-only", "--runs", str(home), "--results", str(results)]
    argv += ["--source", str(source)]
    assert study.main(argv) == 0
    assert "2 of 324 planned runs finished" in squash((results / "report.md").read_text())
    summaries = {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")}
    again = _slot(600, home, tmp_path / "again.tar.gz", *study_args)
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")} == summaries
    assert _members(tmp_path / "again.tar.gz") == members


def test_slot_packs_the_search_so_the_next_slot_continues_it(tmp_path: Path) -> None:
    pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")
    source = tiny_fashion(tmp_path / "fashion")
    runs, bundle = tmp_path / "runs", tmp_path / "out" / "study.tar.gz"
    study_args = ["--budget", "smoke", "--device", "cpu", "--workers", "0", "--tune"]
    study_args += ["--trials", "2", "--datasets", "cfmnist", "--pcts", "5", "--methods", "erm"]
    study_args += ["--seeds", "41", "--rows", "tuned", "--source", str(source)]
    study_args += ["--results", str(tmp_path / "results")]
    done = _slot(600, runs, bundle, *study_args)
    assert done.returncode == 0, done.stderr
    assert "1 finished run(s) and 2 finished trial(s) packed" in done.stdout
    members = _members(bundle)
    cell = "tune/cfmnist-5pct/"
    assert {m for m in members if m.count("/") == 2} == {
        cell + name for name in ("journal.log", "selected.json", "tune.json")
    }
    assert sum(m.startswith(cell + "trials/erm/") for m in members) == 2 * 4
    assert not any("heartbeats" in m or m.endswith(".pt") for m in members)

    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["tar", "-xzf", str(bundle), "-C", str(home)], check=True)
    summaries = {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")}
    again = _slot(600, home, tmp_path / "again.tar.gz", *study_args)
    assert again.returncode == 0, again.stderr
    assert "trials 2 complete" in again.stdout  # the journal came back: no third trial
    assert {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")} == summaries


def test_slot_past_its_deadline_still_hands_back_a_bundle(tmp_path: Path) -> None:
    source = tiny_fashion(tmp_path / "fashion")
    bundle = tmp_path / "study.tar.gz"
    study_args = ["--budget", "smoke", "--device", "cpu", "--datasets", "cfmnist"]
    study_args += ["--pcts", "5", "--source", str(source), "--results", str(tmp_path / "r")]
    done = _slot(1, tmp_path / "runs", bundle, *study_args)
    assert done.returncode == 0, done.stderr
    assert (
        "deadline" in done.stdout
        and "0 finished run(s) and 0 finished trial(s) packed" in done.stdout
    )
    assert _members(bundle) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["10", "runs"], "usage:"),
        (["1.5", "r", "b.tar.gz"], "SECONDS"),
        (["5", "r", "b.zip"], "BUNDLE"),
    ],
)
def test_slot_refuses_bad_arguments(tmp_path: Path, arguments: list[str], message: str) -> None:
    done = subprocess.run(
        ["bash", str(SLOT), *arguments], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and message in done.stderr
    assert done.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []
