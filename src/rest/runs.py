"""Run directories: everything one training run leaves behind, and how it resumes.

::

    RUN/
      config.json        the resolved config
      metrics.jsonl      one JSON object per epoch (train, valid, test metrics, lr, time)
      summary.json       written last; its presence marks a finished run
      .lock              held (flock) by the process training the run; names its holder
      log.txt            the human-readable progress lines
      checkpoints/
        best.pt, last.pt compact checkpoints (active weights + masks + metadata)
        resume.pt        optimizer, schedule, sparse engine, method and RNG state

Every file is written to a temporary name and renamed, so a run killed at any
point leaves each file either complete or absent, and ``--resume`` continues from
``resume.pt``. Files get the permissions of the user's umask, like any other file.

A run that stopped before its first ``resume.pt`` (a failure or a kill in the first
epoch) saved nothing worth keeping: the next run in the same directory starts
over in it, whatever its settings, and notes that in ``log.txt``.

A process trains in a run directory only while it holds the advisory lock on
``.lock`` (:class:`RunLock`): a second trainer, from the same machine or another one
sharing the filesystem, is refused with the holder's host, pid and start time, and
the operating system releases the lock when the holder dies, however it dies.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rest.errors import RestError
from rest.outputs import check_output_dir, make_readable

LOCK_FILE = ".lock"
LOCK_TRIES = 5

# Fields that may differ between the original and the resumed invocation.
RUNTIME_FIELDS = {("run", "device"), ("run", "eval_batch_size")}


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)``, then rename ``tmp`` to ``path``.

    ``tmp`` is in the same directory, so the rename is atomic.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        make_readable(tmp)
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_torch(path: Path, payload: Any) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically. It is serialised in memory
    first: torch's own file writer reports a full disk as a cryptic ``RuntimeError``
    ("unexpected pos"), a plain write as the ``OSError`` (ENOSPC) the CLI explains."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(Path(path), lambda tmp: tmp.write_bytes(buffer.getbuffer()))


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(value, indent=2) + "\n"))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise RestError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise RestError(f"cannot read {path}: it is not UTF-8 text (a binary file?)") from None
    except json.JSONDecodeError as error:
        raise RestError(f"cannot read {path}: not valid JSON ({error})") from None


class RunLocked(RestError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """The advisory lock of one run directory, held from :meth:`acquire` to :meth:`release`.

    ``flock`` on ``RUN/.lock``: tied to the open file, so the kernel drops it when the
    holder exits or is killed (no stale lock to clean up), and on Linux it also works
    across machines on NFS. The file records who holds it, for the refusal message.
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunLocked` naming its holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        # A few tries: ``rest sweep --status`` may hold a shared lock for a moment.
        for attempt in range(LOCK_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt + 1 < LOCK_TRIES:
                    time.sleep(0.1)
        else:
            os.close(fd)
            raise RunLocked(
                f"run directory {self.path.parent} is being trained by {self.holder()}; "
                "wait for it to finish or choose another --out"
            ) from None
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": _now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def held(self) -> bool:
        """True while some process (this one included) holds the lock."""
        return self._fd is not None or self.file_held(self.path)

    @staticmethod
    def file_held(path: Path) -> bool:
        """True while some process holds an exclusive ``flock`` on ``path``."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def holder(self) -> str:
        """``host H pid P since T``, as the holder wrote it."""
        try:
            info = json.loads(self.path.read_text())
            return f"host {info['host']} pid {info['pid']} since {info['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "an unknown process"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunDirectory:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.metrics_path = self.path / "metrics.jsonl"
        self.summary_path = self.path / "summary.json"
        self.log_path = self.path / "log.txt"
        self.checkpoints = self.path / "checkpoints"
        self.best_checkpoint = self.checkpoints / "best.pt"
        self.last_checkpoint = self.checkpoints / "last.pt"
        self.resume_state = self.checkpoints / "resume.pt"
        self.opened = False  # set once start() has created or reopened the directory

    def lock(self) -> RunLock:
        """This directory's lock (not yet acquired)."""
        return RunLock(self.path)

    @property
    def finished(self) -> bool:
        return os.path.isfile(self.summary_path)  # False, not an error, for an impossible path

    @property
    def started(self) -> bool:
        return os.path.isfile(self.config_path)

    @property
    def saved_nothing(self) -> bool:
        """Started, but stopped before its first resumable state: nothing to lose."""
        return self.started and not self.finished and not self.resume_state.is_file()

    def start(self, config: dict[str, Any], resume: bool) -> bool:
        """Create or reopen the directory; True when there is saved state to resume from."""
        if not self.finished:  # a finished run is only read, so it may be read-only
            check_output_dir(self.path)
        starting_over = self.saved_nothing
        if starting_over:
            self._start_over()  # keeps log.txt, with a line saying so
        if self.started:
            if not resume:
                raise RestError(
                    f"run directory {self.path} already holds a run; pass --resume to "
                    "continue it, or choose another --out"
                )
            self._check_same_config(read_json(self.config_path), config)
            self.checkpoints.mkdir(exist_ok=True)
            self.opened = True
            return self.resume_state.is_file()
        if (
            self.path.is_dir()
            and any(p.name != LOCK_FILE for p in self.path.iterdir())
            and not starting_over
        ):
            raise RestError(
                f"run directory {self.path} is not empty and holds no run; choose another --out"
            )
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        write_json(self.config_path, config)
        self.opened = True
        return False

    def _start_over(self) -> None:
        for path in (self.config_path, self.metrics_path, self.summary_path):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.checkpoints, ignore_errors=True)
        self.log("starting over: the previous attempt stopped before its first checkpoint")

    def _check_same_config(self, saved: dict[str, Any], config: dict[str, Any]) -> None:
        for section, values in config.items():
            if not isinstance(values, dict):
                if saved.get(section) != values:
                    self._mismatch(section, saved.get(section), values)
                continue
            for name, value in values.items():
                if (section, name) in RUNTIME_FIELDS:
                    continue
                old = saved.get(section, {}).get(name)
                if old != value:
                    self._mismatch(f"{section}.{name}", old, value)

    def _mismatch(self, name: str, old: Any, new: Any) -> None:
        raise RestError(
            f"cannot resume {self.path}: it was started with {name}={old!r}, not {new!r}; "
            "resume with the same settings or choose another --out"
        )

    def append_metrics(self, record: dict[str, Any]) -> None:
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut off by a kill; everything after it is lost too
        return records

    def keep_metrics_until(self, epoch: int) -> None:
        """Drop per-epoch records after ``epoch`` (written after the last saved state)."""
        kept = [r for r in self.read_metrics() if r["epoch"] <= epoch]
        atomic_write(
            self.metrics_path,
            lambda tmp: tmp.write_text("".join(json.dumps(r) + "\n" for r in kept)),
        )

    def log(self, line: str) -> None:
        with self.log_path.open("a") as handle:
            handle.write(line + "\n")

    def save_state(self, path: Path, state: dict[str, Any]) -> None:
        save_torch(path, state)

    def load_resume_state(self) -> dict[str, Any]:
        try:
            return torch.load(self.resume_state, map_location="cpu", weights_only=True)
        except Exception as error:  # any unpickling failure means a damaged file
            raise RestError(
                f"cannot resume from {self.resume_state}: the file is damaged ({error}); "
                "delete the run directory to start over"
            ) from None

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.summary_path, summary)

    def read_summary(self) -> dict[str, Any]:
        return read_json(self.summary_path)
