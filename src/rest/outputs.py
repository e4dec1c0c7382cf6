"""Output locations checked before any work starts, and files written with the user's umask.

``rest train``, ``rest data make`` and ``rest report`` call :func:`check_output_dir`
on their ``--out`` first, so a location that cannot hold files (below a regular
file, on a read-only or pseudo file system, without write permission, a name too
long) stops the command with one line naming the path and the reason, instead of
a traceback after minutes of work.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from rest.errors import RestError


def _nearest_existing(path: Path) -> Path:
    while not os.path.exists(path) and path != path.parent:  # False on any OSError
        path = path.parent
    return path


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output_dir(path: str | Path, flag: str = "--out") -> None:
    """Refuse an output directory that could not be created or written into.

    Nothing is created: the nearest existing ancestor (or ``path`` itself) gets a
    probe directory that is removed at once.
    """
    path = Path(path).expanduser().absolute()
    existing = _nearest_existing(path)
    problem = f"cannot write {flag} {path}"
    if existing == path and not os.path.isdir(path):
        raise RestError(f"{problem}: it is a file, not a folder; choose another {flag}")
    if not os.path.isdir(existing):
        raise RestError(f"{problem}: {existing} is a file, not a folder; choose another {flag}")
    limit = _name_max(existing)
    for part in path.relative_to(existing).parts:
        if len(os.fsencode(part)) > limit:
            raise RestError(
                f"{problem}: the name {part[:24]}... is longer than the {limit} bytes a file "
                f"name may have here; choose a shorter {flag}"
            )
    try:
        probe = tempfile.mkdtemp(prefix=".rest-write-check-", dir=existing)
    except OSError as error:
        reason = {
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EROFS: "read-only file system",
            errno.ENOSPC: "no space left on the device",
            errno.EDQUOT: "disk quota exceeded",
        }.get(error.errno or 0, f"it cannot hold new files ({error.strerror})")
        raise RestError(f"{problem}: {existing}: {reason}; choose another {flag}") from None
    os.rmdir(probe)


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_readable(path: str | Path) -> None:
    """Give a file made by :func:`tempfile.mkstemp` (always 0600) the permissions any
    other file of the user gets: 0666 less the umask."""
    os.chmod(path, 0o666 & ~current_umask())
