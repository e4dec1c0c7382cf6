"""Reading a user's files: a folder or file we may not read is one line naming it.

``Path.rglob`` silently skips folders it cannot list (a split would read as
"no images", a class folder would just go missing), and ``Path.is_dir`` raises
a bare ``PermissionError`` on a child of such a folder. So datasets are walked
with :func:`walk_files`, which refuses what it cannot list, and every read runs
under :func:`permission_checked`, which turns any ``PermissionError`` into
``permission denied: PATH``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rest.errors import RestError


def permission_denied(error: PermissionError) -> RestError:
    """The one-line error for ``error``, naming the path the system refused.

    When the refused path sits in a folder that may not be searched (so even its
    metadata cannot be read), that folder is named: it is what needs fixing.
    """
    if error.filename is None:
        return RestError(f"permission denied: {error.strerror or error}")
    return RestError(f"permission denied: {_blocking(Path(os.fsdecode(error.filename)))}")


def _blocking(path: Path) -> Path:
    """The first folder on the way to ``path`` that cannot be searched, else ``path``."""
    for step in [*reversed(path.parents), path][1:]:
        try:
            os.stat(step)
        except PermissionError:
            return step.parent
        except OSError:
            break
    return path


@contextmanager
def permission_checked() -> Iterator[None]:
    """Run a read of user files; a ``PermissionError`` becomes :func:`permission_denied`."""
    try:
        yield
    except PermissionError as error:
        raise permission_denied(error) from None


def walk_files(directory: Path) -> Iterator[Path]:
    """Every file (or link to one) under ``directory``, not following links to folders.

    Unlike ``Path.rglob`` it raises ``PermissionError`` for a folder it cannot list
    instead of skipping it.
    """

    def refuse(error: OSError) -> None:
        raise error

    for folder, _subfolders, names in os.walk(directory, onerror=refuse):
        for name in names:
            yield Path(folder) / name
