"""Readers for dataset layouts users already have, by name, with autodetection.

``READERS`` maps ``disent``, ``lff`` and ``csv`` to a :class:`Reader`;
:func:`read_path` loads a path with the named layout, or with the first reader
that recognises it when the layout is ``auto``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rest.data.dataset import BiasedSplits
from rest.data.readers import disent, lff, metadata_csv
from rest.data.readers.base import Reader
from rest.errors import RestError
from rest.registry import Registry

if TYPE_CHECKING:
    from rest.data.config import DataConfig

READERS: Registry[Reader] = Registry("layout")
for _reader in (disent.READER, lff.READER, metadata_csv.READER):
    READERS.register(_reader.name)(_reader)

# Autodetection order: the most specific layouts first.
DETECTION_ORDER = ("disent", "lff", "csv")


def find_reader(path: Path, layout: str = "auto") -> Reader:
    """The reader for ``path``: the named layout, or the first one that recognises it."""
    if not path.exists():
        raise RestError(f"{path}: no such file or directory")
    if layout != "auto":
        return READERS.get(layout)
    for name in DETECTION_ORDER:
        if READERS.get(name).detect(path):
            return READERS.get(name)
    expected = "; ".join(f"{name}: {READERS.get(name).expects}" for name in DETECTION_ORDER)
    raise RestError(f"{path} matches no known dataset layout (expected {expected})")


def read_path(path: Path, config: DataConfig) -> BiasedSplits:
    """Load the dataset at ``path`` (a directory, or a CSV file) as ``config`` says."""
    return find_reader(path, config.layout).read(path, config)


__all__ = ["READERS", "Reader", "find_reader", "read_path"]
