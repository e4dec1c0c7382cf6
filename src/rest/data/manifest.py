"""The manifest ``rest data make`` leaves at the root of what it wrote.

It records what made the files (generator, seed, full configuration, source) and
a SHA-256 of the tree, so a dataset can be regenerated and checked byte for byte.
The tree digest is the SHA-256 of the lines ``<sha256 of file>  <relative path>``
in path order (what ``sha256sum`` prints), over every file except the manifest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rest.data.access import permission_denied
from rest.errors import RestError

MANIFEST = "rest-manifest.json"


def tree_digest(root: Path) -> tuple[str, int]:
    """``(hex digest, number of files)`` of every file under ``root`` but the manifest."""
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).as_posix() != MANIFEST
    )
    listing = hashlib.sha256()
    for rel in files:
        digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        listing.update(f"{digest}  {rel}\n".encode())
    return listing.hexdigest(), len(files)


def write_manifest(root: Path, record: dict[str, object]) -> dict[str, object]:
    """Add the tree digest to ``record`` and write it as ``root/rest-manifest.json``."""
    digest, count = tree_digest(root)
    record = {**record, "files": count, "sha256": digest}
    (root / MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def read_manifest(root: Path) -> dict[str, object] | None:
    """The manifest under ``root``, or ``None`` when there is none."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except PermissionError as error:
        raise permission_denied(error) from None
    except (OSError, ValueError) as error:
        raise RestError(f"cannot read {path}: {error}") from None
    if not isinstance(record, dict):
        raise RestError(f"{path} is not a rest manifest (expected a JSON object)")
    return record


def verify_manifest(root: Path) -> str:
    """Check every file under ``root`` against its manifest; a line saying so, or RestError.

    The manifest holds one digest for the whole tree, so a mismatch says that
    something changed (and how the file count moved), not which file.
    """
    record = read_manifest(root)
    if record is None:
        raise RestError(
            f"{root} has no {MANIFEST} to verify against (only rest data make writes one)"
        )
    digest, count = tree_digest(root)
    if (digest, count) != (record.get("sha256"), record.get("files")):
        raise RestError(
            f"{root}: the files do not match {MANIFEST} ({count} files, sha256 {digest}; the "
            f"manifest says {record.get('files')} files, sha256 {record.get('sha256')}): they "
            "changed after rest data make; regenerate them with the manifest's settings"
        )
    return f"verified: {count} files match {MANIFEST} (sha256 {digest})"
