"""Output locations, stopped runs, file permissions and Ctrl-C, through the real CLI."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rest.config import TrainConfig
from rest.engine import fit
from rest.errors import RestError
from rest.methods import METHODS
from rest.trainer import Trainer
from test_config_validation import assert_one_line_error, run_cli

from training_testing import tiny_config

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write_tiny_dataset(root: Path) -> Path:
    """A DisEnt folder (1pct/{align,conflict,valid}, test) of 8x8 images: the bias is
    the colour channel, the target the lit half of the image."""
    index = 0

    def put(folder: Path, y: int, b: int) -> None:
        nonlocal index
        image = np.full((8, 8, 3), 20, dtype=np.uint8)
        image[..., b] += 120
        image[y * 4 : y * 4 + 4] += 100
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:05d}_{y}_{b}.png")
        index += 1

    for y in (0, 1):
        for _ in range(6):
            put(root / "1pct" / "align" / str(y), y, y)
        put(root / "1pct" / "conflict" / str(y), y, 1 - y)
    for y, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
        put(root / "1pct" / "valid", y, b)
        put(root / "test" / str(y), y, b)
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_tiny_dataset(tmp_path / "data")


def train_argv(dataset: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--dataset",
        str(dataset),
        "--method",
        "erm",
        "--model",
        "cnn",
        "--width",
        "4",
        "--batch-size",
        "8",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


# --- output locations -------------------------------------------------------------------


@pytest.fixture
def regular_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("a regular file\n")
    return path


def test_train_out_below_a_regular_file(capsys, tmp_path, regular_file):
    out = regular_file / "run"
    # checked before any work: before the (here missing) data is even looked at
    code, _, err = run_cli(capsys, *train_argv(tmp_path / "no-data", out))
    assert_one_line_error(code, err, str(out), f"{regular_file} is a file, not a folder")
    assert regular_file.read_text() == "a regular file\n"


def test_train_out_that_is_a_regular_file(capsys, dataset, regular_file):
    code, _, err = run_cli(capsys, *train_argv(dataset, regular_file))
    assert_one_line_error(code, err, str(regular_file), "is a file")


def test_data_make_out_below_a_regular_file(capsys, regular_file):
    out = regular_file / "cmnist"
    code, _, err = run_cli(capsys, "data", "make", "cmnist", "--out", str(out))
    assert_one_line_error(code, err, str(out), "is a file, not a folder")


def test_report_out_below_a_regular_file(capsys, tmp_path, regular_file):
    from test_report import make_summary, write_run

    write_run(tmp_path / "runs", "a", make_summary("erm", 1.0, 1, 0.3, sparse=False))
    out = regular_file / "report"
    code, _, err = run_cli(capsys, "report", str(tmp_path / "runs"), "--out", str(out))
    assert_one_line_error(code, err, str(out), "is a file, not a folder")
    assert not (tmp_path / "runs" / "report").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a /proc file system")
def test_out_where_no_file_can_be_created(capsys, dataset):
    out = Path("/proc/self/rest-run")
    code, _, err = run_cli(capsys, *train_argv(dataset, out))
    assert_one_line_error(code, err, str(out), "/proc/self", "cannot hold new files")


def test_out_name_too_long(capsys, dataset, tmp_path):
    out = tmp_path / ("r" * 300)
    code, _, err = run_cli(capsys, *train_argv(dataset, out))
    assert_one_line_error(code, err, "longer than", "choose a shorter --out")


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder(capsys, dataset, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = run_cli(capsys, *train_argv(dataset, locked / "run"))
    finally:
        locked.chmod(0o755)
    assert_one_line_error(code, err, str(locked / "run"), "permission denied")


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_a_finished_run_in_a_read_only_folder_is_still_reported(capsys, dataset, tmp_path):
    out = tmp_path / "run"
    assert run_cli(capsys, *train_argv(dataset, out))[0] == 0
    out.chmod(0o555)
    try:
        code, stdout, err = run_cli(capsys, *train_argv(dataset, out))
    finally:
        out.chmod(0o755)
    assert code == 0, err
    assert "non-zero parameters" in stdout


# --- runs that stop ---------------------------------------------------------------------


def interrupt_in_epoch(monkeypatch, epoch: int) -> None:
    """Ctrl-C during training epoch ``epoch`` (1-based), as a user would press it."""
    original = Trainer.train_epoch
    calls = []

    def train_epoch(self, description):
        calls.append(description)
        if len(calls) == epoch:
            raise KeyboardInterrupt
        return original(self, description)

    monkeypatch.setattr(Trainer, "train_epoch", train_epoch)


def resume_command(err: str) -> list[str]:
    (line,) = err.strip().splitlines()
    assert line.startswith("rest: interrupted; continue with: rest train ")
    return shlex.split(line.split("continue with: ", 1)[1])[1:]


def test_ctrl_c_prints_the_command_that_resumes(capsys, monkeypatch, dataset, tmp_path):
    out = tmp_path / "run"
    interrupt_in_epoch(monkeypatch, 2)
    code, _, err = run_cli(capsys, *train_argv(dataset, out, "--lr", "0.05"))
    assert code == 130
    command = resume_command(err)
    assert command[-1] == "--resume" and str(out / "config.json") in command
    monkeypatch.undo()

    code, _, err = run_cli(capsys, *command)
    assert code == 0, err
    log = (out / "log.txt").read_text().splitlines()
    assert "stopped: interrupted" in log and f"resuming {out} after epoch 1" in log
    assert [r["epoch"] for r in map(json.loads, (out / "metrics.jsonl").open())] == [1, 2]


def test_run_stopped_before_its_first_checkpoint_does_not_block_its_folder(
    capsys, monkeypatch, dataset, tmp_path
):
    out = tmp_path / "run"
    interrupt_in_epoch(monkeypatch, 1)
    code, _, err = run_cli(capsys, *train_argv(dataset, out))
    assert code == 130 and "continue with:" in err
    assert (out / "config.json").is_file()  # a stub: config, empty metrics, the log
    monkeypatch.undo()

    # the same folder, other settings, no --resume: the stub is replaced
    code, _, err = run_cli(capsys, *train_argv(dataset, out, "--lr", "0.02"))
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["optim"]["lr"] == 0.02
    log = (out / "log.txt").read_text()
    assert "stopped: interrupted" in log and "starting over" in log
    assert (out / "summary.json").is_file()


def test_a_run_with_saved_state_still_needs_resume(tiny_splits, tmp_path, monkeypatch):
    """Only a run that saved nothing is replaced; one with a checkpoint is protected."""
    interrupt_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_config("erm"), tiny_splits, out=tmp_path / "run", show_progress=False)
    monkeypatch.undo()
    with pytest.raises(RestError, match="pass --resume"):
        fit(tiny_config("erm"), tiny_splits, out=tmp_path / "run", show_progress=False)


def test_a_diverged_run_leaves_its_last_line_in_the_log(tiny_splits, tmp_path, monkeypatch):
    def nan_loss(self, model, batch):
        logits = model(batch.images)
        return logits.sum() * float("nan"), logits

    monkeypatch.setattr(METHODS.get("erm"), "loss", nan_loss)
    with pytest.raises(RestError, match="diverged") as caught:
        fit(tiny_config("erm"), tiny_splits, out=tmp_path / "run", show_progress=False)
    last = (tmp_path / "run" / "log.txt").read_text().splitlines()[-1]
    assert last == f"stopped: {caught.value}"


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_run_files_follow_the_umask(tiny_splits, tmp_path, umask):
    previous = os.umask(umask)
    try:
        config = tiny_config("erm", optim={"epochs": 1})
        fit(config, tiny_splits, out=tmp_path / "run", show_progress=False)
    finally:
        os.umask(previous)
    run = tmp_path / "run"
    expected = 0o666 & ~umask
    for name in ("config.json", "metrics.jsonl", "summary.json", "log.txt"):
        assert stat.S_IMODE((run / name).stat().st_mode) == expected, name
    for name in ("best.pt", "last.pt", "resume.pt"):
        assert stat.S_IMODE((run / "checkpoints" / name).stat().st_mode) == expected, name


def test_resolved_config_round_trips_for_the_resume_command(tiny_splits, tmp_path):
    """The resume hint relies on config.json reproducing the run's settings exactly."""
    config = tiny_config("rest", optim={"epochs": 1}, sparse={"density": 0.5})
    fit(config, tiny_splits, out=tmp_path / "run", show_progress=False)
    again = TrainConfig.from_file(tmp_path / "run" / "config.json")
    summary = fit(again, tiny_splits, out=tmp_path / "run", resume=True, show_progress=False)
    assert summary["method"] == "rest"


# --- a full disk ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 48 KiB tmpfs: room for a run's config and logs, not for its checkpoints."""
    point = tmp_path / "disk"
    point.mkdir()
    if not IS_ROOT:
        pytest.skip("a full disk is a size-limited tmpfs here, and mounting one needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_full_disk_is_one_line_with_the_command_that_resumes(capsys, dataset, small_disk):
    out = small_disk / "run"
    code, _, err = run_cli(capsys, *train_argv(dataset, out, "--width", "32"))
    assert_one_line_error(code, err, "no space left on the device", "free some space")
    assert [p.name for p in out.rglob(".*")] == [".lock"]  # no half-written temporary file
    command = err.split("then continue with: ")[1].strip()
    assert command == f"rest train --config {out}/config.json --out {out} --resume"
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    assert run_cli(capsys, *shlex.split(command)[1:])[0] == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2
