"""The LfF release layout: NumPy arrays per split.

::

    ROOT/train/images.npy   uint8 (N, H, W, C) or (N, H, W)
    ROOT/train/attrs.npy    integers (N, >=2): column 0 = target y, column 1 = bias b
    ROOT/valid/images.npy, ROOT/valid/attrs.npy

LfF ships no test split, and selecting a model on the split it is scored on
would overstate it. So ``valid`` is cut in two without randomness: its images
are ordered by group ``(y, b)`` (file order within a group) and dealt
alternately to validation and test, so both halves keep the group mix of the
original to within one image per group; ``info["valid"]`` and ``info["test"]``
say so. Each LfF folder holds one conflict ratio; ``info["conflict_pct"]`` is the
share measured on its train split.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rest.data.access import permission_denied
from rest.data.arrays import SplitArrays, assemble
from rest.data.dataset import BiasedSplits
from rest.data.images import resize_images
from rest.data.labels import checked_class_count
from rest.data.readers.base import Reader, recommended
from rest.errors import RestError

if TYPE_CHECKING:
    from rest.data.config import DataConfig

EXPECTS = "train/images.npy + train/attrs.npy, valid/images.npy + valid/attrs.npy"


def detect(root: Path) -> bool:
    return (root / "train" / "images.npy").is_file()


def _load(path: Path) -> np.ndarray:
    if not path.is_file():
        raise RestError(f"{path} is missing (LfF layout: {EXPECTS})")
    try:
        loaded = np.load(path, allow_pickle=False)
    except PermissionError as error:
        raise permission_denied(error) from None
    except (OSError, ValueError, EOFError) as error:
        raise RestError(f"cannot read {path}: {error}") from None
    if not isinstance(loaded, np.ndarray):  # an .npz archive under an .npy name
        raise RestError(f"{path} is not a .npy array file (LfF layout: {EXPECTS})")
    return loaded


def _read_split(directory: Path) -> SplitArrays:
    images, attrs = _load(directory / "images.npy"), _load(directory / "attrs.npy")
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise RestError(
            f"{directory / 'images.npy'}: expected uint8 images (N, H, W[, C]), "
            f"found {images.dtype} {images.shape}"
        )
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] not in (1, 3):
        raise RestError(
            f"{directory / 'images.npy'}: expected 1 or 3 channels last, {images.shape}"
        )
    if attrs.ndim != 2 or attrs.shape[1] < 2 or len(attrs) != len(images):
        raise RestError(
            f"{directory / 'attrs.npy'}: expected one row (y, b, ...) per image, "
            f"found shape {attrs.shape} for {len(images)} images"
        )
    if not np.issubdtype(attrs.dtype, np.integer) or attrs[:, :2].min(initial=0) < 0:
        raise RestError(f"{directory / 'attrs.npy'}: labels must be non-negative integers")
    if len(images) == 0:
        raise RestError(f"no images in {directory / 'images.npy'}")
    images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    return SplitArrays(images, attrs[:, 0].astype(np.int64), attrs[:, 1].astype(np.int64))


def read(root: Path, config: DataConfig) -> BiasedSplits:
    train, held_out = _read_split(root / "train"), _read_split(root / "valid")
    num_classes = checked_class_count(
        {"train": train, "valid": held_out},
        lambda split, index: f"row {index} of {root / split / 'attrs.npy'}",
        config.num_classes,
    )
    if config.image_size is not None:
        train, held_out = (
            SplitArrays(resize_images(s.images, config.image_size), s.targets, s.biases)
            for s in (train, held_out)
        )
    groups = held_out.targets * (int(held_out.biases.max()) + 1) + held_out.biases
    order = np.argsort(groups, kind="stable")
    valid_idx, test_idx = np.sort(order[0::2]), np.sort(order[1::2])
    if len(test_idx) == 0:
        raise RestError(f"{root / 'valid'} needs at least 2 images to give a valid and a test half")
    valid, test = (
        SplitArrays(held_out.images[i], held_out.targets[i], held_out.biases[i])
        for i in (valid_idx, test_idx)
    )
    name = root.resolve().name
    info: dict[str, object] = {
        "name": name,
        "reader": "lff",
        "path": str(root.resolve()),
        "valid": "half of valid/: every other image of each (y, b) group",
        "test": "the other half of valid/ (LfF has no test split)",
        **recommended(train.images.shape),
    }
    splits = assemble(name, train, valid, test, info, num_classes=num_classes)
    share = float(splits.train.conflicting.float().mean())
    splits.info["conflict_pct"] = round(100 * share, 3)
    return splits


READER = Reader("lff", EXPECTS, detect, read)
