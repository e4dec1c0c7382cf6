"""Workers die with their parent: a SIGKILLed sweep leaves no worker training behind.
Each guard is tested on its own (the kernel's parent-death signal, the pipe watchdog)
and together through the local launcher."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from processes import alive, python, wait_until


def _kill(pid: int) -> None:
    """Clean up after a failure: a survivor must not outlive the test."""
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def _pid_from(path: Path) -> int:
    wait_until(lambda: path.is_file() and path.read_text().strip() != "", 120, f"{path}")
    return int(path.read_text())


def test_killing_the_launcher_kills_its_workers(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    parent = python(
        "import sys\n"
        "from rest.launch import Job, LocalLauncher\n"
        "from processes import sleep_forever\n"
        "LocalLauncher(1, sys.argv[2]).run([Job('sleeper', sleep_forever, (sys.argv[1],))])\n",
        str(pid_file),
        str(tmp_path / "logs"),
    )
    worker = _pid_from(pid_file)
    assert alive(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        wait_until(lambda: not alive(worker), 10, "the orphaned worker to die")
    finally:
        _kill(worker)


def test_parent_death_signal_alone_kills_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = python(
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', sys.argv[2], sys.argv[1]])\n"
        "time.sleep(600)\n",
        str(pid_file),
        "import os, sys, time\n"
        "from rest.launch.lifeline import _set_parent_death_signal\n"
        "assert _set_parent_death_signal()\n"
        "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
        "time.sleep(600)\n",
    )
    child = _pid_from(pid_file)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        wait_until(lambda: not alive(child), 10, "the child to get its parent-death signal")
    finally:
        _kill(child)


def test_the_pipe_watchdog_alone_stops_the_child(tmp_path: Path) -> None:
    """The parent stays alive (no parent-death signal) but its end of the line closes."""
    pid_file = tmp_path / "child.pid"
    parent = python(
        "import multiprocessing as mp, os, sys, time\n"
        "from processes import watched_child\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('spawn')\n"
        "    reader, writer = ctx.Pipe(duplex=False)\n"
        "    child = ctx.Process(\n"
        "        target=watched_child, args=(os.getpid(), reader, sys.argv[1]), daemon=True\n"
        "    )\n"
        "    child.start()\n"
        "    reader.close()\n"
        "    while not os.path.exists(sys.argv[1]): time.sleep(0.05)\n"
        "    writer.close()\n"
        "    child.join(20)\n"
        "    print(child.exitcode, flush=True)\n",
        str(pid_file),
    )
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "1"  # the watchdog's exit, not a timeout
    parent.wait()
