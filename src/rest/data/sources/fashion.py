"""Fashion-MNIST (70,000 images) from Debian's ``dataset-fashion-mnist`` package.

Its IDX files live in ``/usr/share/datasets/fashion-mnist``. Partition: the
official 60,000 train / 10,000 test, with the last 10% of each class of train
kept for validation (54,000 / 6,000 / 10,000).
"""

from __future__ import annotations

from pathlib import Path

from rest.data.sources.base import ImageSource
from rest.data.sources.idx import find_idx_dir, load_idx_source
from rest.errors import RestError

NAME = "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def load_fashion_source() -> ImageSource:
    if find_idx_dir(DEBIAN_DIR) is None:
        raise RestError(
            f"Fashion-MNIST not found in {DEBIAN_DIR}: install the Debian package "
            "dataset-fashion-mnist, or pass --source DIR with its IDX files"
        )
    return load_idx_source(DEBIAN_DIR, name=NAME)
