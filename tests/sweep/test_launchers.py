"""The launcher API on real worker processes: results in job order, errors as lines,
dead workers reported, logs per job, GPU pinning, and flags that belong to another
launcher refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rest.cli import main
from rest.errors import RestError
from rest.launch import GpusLauncher, Job, JobResult, LocalLauncher, SlurmOptions

import processes


@pytest.mark.parametrize("workers", [0, 2])
def test_results_come_back_in_job_order_with_errors_as_lines(tmp_path: Path, workers: int):
    jobs = [
        Job("nine", processes.square, (3,)),
        Job("bug", processes.fail_with_bug),
        Job("bad-input", processes.fail_with_rest_error),
        Job("four", processes.square, (2,)),
    ]
    seen: list[str] = []
    results = LocalLauncher(workers, tmp_path).run(jobs, lambda result: seen.append(result.name))
    assert [r.name for r in results] == ["nine", "bug", "bad-input", "four"]
    assert sorted(seen) == sorted(r.name for r in results)
    nine, bug, bad, four = results
    assert (nine.ok, nine.value, four.value) == (True, 9, 4)
    assert bug.error == "ZeroDivisionError: planted"
    assert bug.details is not None and "fail_with_bug" in bug.details
    assert (bad.error, bad.details) == ("bad input, one line", None)


def test_a_worker_that_dies_is_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    jobs = [Job("dies", processes.die_hard), Job("lives", processes.square, (5,))]
    dies, lives = LocalLauncher(1, tmp_path).run(jobs)
    assert dies.error == "worker process died (exit code 7)"
    assert lives == JobResult("lives", value=25)


def test_ctrl_c_lets_each_worker_stop_on_its_own_before_terminating_it(tmp_path: Path) -> None:
    """Ctrl-C reaches the launcher and its workers (one process group); a worker tidying
    up must not be terminated halfway (a tuning trial would stay 'running')."""
    ready, tidied = tmp_path / "ready", tmp_path / "tidied"
    code = (
        "import signal, sys\n"
        # a shell's background job starts with SIGINT ignored, and children inherit it
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from rest.launch import Job, LocalLauncher\n"
        "import processes\n"
        "job = Job('tidy', processes.tidy_up_on_interrupt, (sys.argv[1], sys.argv[2]))\n"
        "try:\n"
        "    LocalLauncher(1, sys.argv[3]).run([job])\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    path = os.pathsep.join([str(Path(processes.__file__).parent), *sys.path])
    launcher = subprocess.Popen(
        [sys.executable, "-c", code, str(ready), str(tidied), str(tmp_path / "logs")],
        env={**os.environ, "PYTHONPATH": path},
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        processes.wait_until(ready.is_file, 60, "the worker to start")
        os.killpg(launcher.pid, signal.SIGINT)
        assert launcher.wait(timeout=60) == 130
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert tidied.is_file()  # the worker finished tidying up before the launcher ended
    assert not processes.alive(int(ready.read_text()))


def test_each_job_writes_its_own_log(tmp_path: Path) -> None:
    jobs = [
        Job("a", processes.say_and_return, ("first",)),
        Job("b", processes.say_and_return, ("second",)),
    ]
    LocalLauncher(2, tmp_path).run(jobs)
    assert (tmp_path / "a.log").read_text().split() == ["first", "FIRST"]
    assert (tmp_path / "b.log").read_text().split() == ["second", "SECOND"]


def test_job_names_must_be_unique(tmp_path: Path) -> None:
    with pytest.raises(RestError, match="unique"):
        LocalLauncher(0, tmp_path).run([Job("x", processes.square, (1,))] * 2)


def test_gpu_slots_pin_k_workers_to_each_visible_gpu(tmp_path: Path, monkeypatch) -> None:
    """Pinning is an environment variable, so it is checked without GPUs: the ids the
    launcher hands out are those of this process's CUDA_VISIBLE_DEVICES."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    launcher = GpusLauncher(2, tmp_path)
    jobs = [Job(f"j{i}", processes.environment, ("CUDA_VISIBLE_DEVICES",)) for i in range(4)]
    results = launcher.run(jobs)
    devices = sorted(r.value[0] for r in results)
    assert devices == ["3", "3", "5", "5"]
    assert len({r.value[1] for r in results}) == 4  # a fresh process per job


def test_no_visible_gpu_is_one_error_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(RestError, match="no GPU is visible here; use --launcher local"):
        GpusLauncher(1, tmp_path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--launcher", "slurm", "--workers", "2"], "--workers does not apply to --launcher slurm"),
        (["--runs-per-gpu", "2"], "--runs-per-gpu does not apply to --launcher local"),
        (["--slurm-partition", "gpu"], "--slurm-partition does not apply to --launcher local"),
        (
            ["--launcher", "slurm", "--slurm-time-min", "0"],
            "--slurm-time-min must be an integer >= 1",
        ),
        (["--launcher", "slurm", "--slurm-sbatch", "qos=high"], "not a long sbatch option"),
        (
            ["--launcher", "gpus", "--runs-per-gpu", "0"],
            "--runs-per-gpu must be a positive integer",
        ),
    ],
)
def test_launcher_flags_are_checked(argv, message, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert main(["sweep", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rest: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_slurm_options_become_sbatch_parameters() -> None:
    options = SlurmOptions(
        partition="gpu",
        time_min=30,
        cpus_per_run=4,
        gpus_per_run=1,
        mem_gb=2.5,
        array_parallelism=8,
        sbatch=("--qos=high", "--exclusive"),
    )
    assert options.executor_parameters() == {
        "partition": "gpu",
        "time": 30,
        "cpus_per_task": 4,
        "gpus_per_node": 1,
        "mem": "2560MB",
        "array_parallelism": 8,
        "additional_parameters": {"qos": "high", "exclusive": True},
    }
