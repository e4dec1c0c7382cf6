"""Worker processes that die with their parent.

A worker left running after its parent is killed (an OOM kill, a preemption, a
SIGKILL) would keep training in the background and race a relaunched sweep. Two
guards, installed first thing in the worker:

- Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker the moment
  its parent dies;
- a watchdog thread blocked on a pipe whose only writer is the parent: the read
  returns EOF when the parent is gone, however it went, and the worker exits (the
  fallback where ``prctl`` is unavailable).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

PR_SET_PDEATHSIG = 1


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(lifeline: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv()
    os._exit(1)  # the parent is gone (or closed the line): stop at once


def die_with_parent(parent_pid: int, lifeline: Connection) -> None:
    """Make this process exit when ``parent_pid`` (the process that started it) dies."""
    _set_parent_death_signal()
    threading.Thread(target=_watch, args=(lifeline,), name="rest-lifeline", daemon=True).start()
    if os.getppid() != parent_pid:  # it died before the guards were in place
        os._exit(1)
