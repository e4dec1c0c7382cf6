"""Real helper processes for the launcher tests, and the job functions their workers run
(importable top-level functions, as the launchers require)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent


def python(code: str, *args: str) -> subprocess.Popen:
    """A Python process running ``code`` that can import rest and these helpers; its
    stdout is a pipe (first line: whatever the code prints when ready)."""
    path = os.pathsep.join([str(HERE), *sys.path])
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )


def hold_lock(directory: Path) -> subprocess.Popen:
    """A process that holds ``directory``'s run lock until it is killed."""
    process = python(
        "import sys, time\n"
        "from rest.runs import RunLock\n"
        "RunLock(sys.argv[1]).acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(600)\n",
        str(directory),
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


# --- job functions -------------------------------------------------------------------


def square(x: int) -> int:
    return x * x


def environment(name: str) -> tuple[str | None, int]:
    """The job's view of one environment variable, and its pid."""
    time.sleep(0.5)  # long enough that every slot is busy at once
    return os.environ.get(name), os.getpid()


def fail_with_bug() -> None:
    raise ZeroDivisionError("planted")


def fail_with_rest_error() -> None:
    from rest.errors import RestError

    raise RestError("bad input, one line")


def die_hard() -> None:
    os._exit(7)


def say_and_return(text: str) -> str:
    print(text, flush=True)
    print(text.upper(), file=sys.stderr, flush=True)
    return text


def sleep_forever(pid_file: str) -> None:
    """Write this worker's pid to ``pid_file``, then block."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def watched_child(parent_pid: int, lifeline, pid_file: str) -> None:
    """Only the pipe watchdog of :func:`rest.launch.lifeline.die_with_parent` (no prctl)."""
    import threading

    from rest.launch import lifeline as guards

    threading.Thread(target=guards._watch, args=(lifeline,), daemon=True).start()
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def visible_cuda() -> tuple[str | None, int]:
    """CUDA_VISIBLE_DEVICES and the number of GPUs torch sees, inside a job."""
    import torch

    return os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count()


def tidy_up_on_interrupt(ready_file: str, tidied_file: str) -> None:
    """Block; on Ctrl-C take a moment to tidy up (as a tuning trial marks itself for
    retry), record that it finished, then stop."""
    Path(ready_file).write_text(str(os.getpid()))
    try:
        time.sleep(600)
    except KeyboardInterrupt:
        time.sleep(1.0)
        Path(tidied_file).write_text("tidied")
        raise
