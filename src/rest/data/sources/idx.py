"""MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST, ...), plain or gzipped.

Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``)
in the given directory or where torchvision keeps them (``DIR/raw``,
``DIR/<Name>/raw``).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from rest.data.access import permission_denied
from rest.data.sources.base import ImageSource, LabeledImages, with_valid_from_train
from rest.errors import RestError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# IDX magic: two zero bytes, a type code (0x08 = unsigned byte) and the number of dimensions.
_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """The uint8 array stored in one IDX file (``.gz`` is decompressed)."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except PermissionError as error:
        raise permission_denied(error) from None
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise RestError(f"cannot read IDX file {path}: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or raw[3] == 0:
        raise RestError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise RestError(f"{path}: the IDX header announces shape {shape} but the size differs")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_idx_dir(directory: Path) -> Path | None:
    """The directory (``directory``, ``directory/raw`` or ``directory/*/raw``) holding IDX files."""
    candidates = [directory, directory / "raw", *sorted(directory.glob("*/raw"))]
    for candidate in candidates:
        if all(_find(candidate, stem) for stem in FILES.values()):
            return candidate
    return None


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _labeled(directory: Path, split: str) -> LabeledImages:
    images_path = _find(directory, FILES[f"{split}_images"])
    labels_path = _find(directory, FILES[f"{split}_labels"])
    assert images_path is not None and labels_path is not None
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise RestError(
            f"{images_path} and {labels_path} must hold N images (N, H, W) and N labels; "
            f"found shapes {images.shape} and {labels.shape}"
        )
    return LabeledImages(images[:, None], labels.astype(np.int64))


def load_idx_source(directory: Path, name: str | None = None) -> ImageSource:
    """A source from the IDX files under ``directory``; valid is carved from train."""
    found = find_idx_dir(directory)
    if found is None:
        raise RestError(
            f"{directory}: no MNIST-format IDX files found (expected "
            f"{', '.join(FILES.values())}, optionally .gz, in it or in its raw/ folder)"
        )
    return with_valid_from_train(
        name or str(found.resolve()),
        f"MNIST-format IDX files in {found}",
        _labeled(found, "train"),
        _labeled(found, "test"),
    )
