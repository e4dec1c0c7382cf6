"""CIFAR-10 "python version" batches: ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``.

Each batch is a pickled dict with ``b"data"`` (N x 3072 uint8, channel-major 32x32)
and ``b"labels"``. That pickle is the official distribution format, so it is read
with :func:`~rest.data.safe_pickle.load_data_pickle`, which builds dicts, lists,
bytes, numbers and NumPy arrays and refuses anything else: a crafted batch cannot
run code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rest.data.safe_pickle import load_data_pickle
from rest.data.sources.base import ImageSource, LabeledImages, with_valid_from_train
from rest.errors import RestError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def find_cifar_dir(directory: Path) -> Path | None:
    """``directory`` or ``directory/cifar-10-batches-py`` when it holds all six batches."""
    for candidate in (directory, directory / "cifar-10-batches-py"):
        if all((candidate / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
            return candidate
    return None


def read_batch(path: Path) -> LabeledImages:
    """One batch as ``(N, 3, 32, 32)`` images and labels."""
    batch = load_data_pickle(path, "CIFAR-10 batch")
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise RestError(f"cannot read CIFAR-10 batch {path}: {error!r}") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise RestError(
            f"{path}: expected {len(labels)} rows of 3072 bytes, found data of shape {data.shape}"
        )
    return LabeledImages(data.reshape(-1, 3, 32, 32), labels)


def load_cifar_source(directory: Path) -> ImageSource:
    """A source from CIFAR-10 batches; valid is carved from the five training batches."""
    found = find_cifar_dir(directory)
    if found is None:
        raise RestError(
            f"{directory}: no CIFAR-10 python batches found (expected "
            f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH}, in it or in cifar-10-batches-py/)"
        )
    batches = [read_batch(found / name) for name in TRAIN_BATCHES]
    train = LabeledImages(
        np.concatenate([b.images for b in batches]), np.concatenate([b.labels for b in batches])
    )
    return with_valid_from_train(
        str(found.resolve()),
        f"CIFAR-10 python batches in {found}",
        train,
        read_batch(found / TEST_BATCH),
    )
