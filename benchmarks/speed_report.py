"""Markdown tables and phase timing shared by the speed benchmark's sections."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator


@contextlib.contextmanager
def timed(name: str, phases: dict[str, float]) -> Iterator[None]:
    """Say what is running (the slow parts take minutes) and record how long it took."""
    print(f"{name}...", file=sys.stderr)
    start = time.perf_counter()
    yield
    phases[name] = time.perf_counter() - start


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
