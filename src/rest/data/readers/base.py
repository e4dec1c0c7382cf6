"""What a reader is, and the pieces the file-based readers share.

A reader recognises its layout (``detect``) and loads it (``read``) into
:class:`~rest.data.dataset.BiasedSplits`; ``expects`` says in a few words what it
looks for, for error messages and ``rest data list``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rest.data.access import walk_files
from rest.data.arrays import SplitArrays
from rest.data.dataset import BiasedSplits
from rest.data.filenames import parse_labels
from rest.data.images import IMAGE_SUFFIXES, read_images
from rest.errors import RestError

if TYPE_CHECKING:
    from rest.data.config import DataConfig


@dataclass(frozen=True)
class Reader:
    name: str
    expects: str
    detect: Callable[[Path], bool]
    read: Callable[[Path, DataConfig], BiasedSplits]


def recommended(image_shape: tuple[int, ...]) -> dict[str, object]:
    """Training defaults by image size: 28x28 digit-like data gets the small CNN and no
    augmentation; anything else is treated as natural images (ResNet-18, crop + flip)."""
    if tuple(image_shape[-2:]) == (28, 28):
        return {"augment": "none", "model": "cnn"}
    return {"augment": "crop_flip", "model": "resnet18"}


def image_files(directory: Path) -> list[Path]:
    """Image files anywhere under ``directory``, ordered by file name (then path).

    Ordering by name rather than folder keeps a split's samples in the order of
    their numbered names even when align and conflict files sit in different folders.
    """
    files = [p for p in walk_files(directory) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: (p.name, str(p)))


def read_labelled_files(files: list[Path], where: Path, size: int | None, desc: str) -> SplitArrays:
    """Decode files whose names carry ``_<y>_<b>`` into one split."""
    if not files:
        raise RestError(f"no images in {where} (expected files named like 00042_<y>_<b>.png)")
    labels = np.array([parse_labels(p) for p in files], dtype=np.int64)
    return SplitArrays(read_images(files, size, desc), labels[:, 0].copy(), labels[:, 1].copy())
