"""User-facing errors.

Anything a user can cause (a missing path, an unknown name, a value out of range)
raises :class:`RestError` with a one-line message that names the problem and the
fix. The CLI prints that line and exits non-zero; any other exception is a bug in
``rest`` and keeps its traceback.
"""

from __future__ import annotations


class RestError(Exception):
    """A problem with the user's input, explained in one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
