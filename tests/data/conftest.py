"""Fixtures writing small on-disk datasets in every supported format."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from data_testing import digit_like, write_idx, write_png


@pytest.fixture
def idx_source(tmp_path: Path) -> Callable[..., Path]:
    """Write MNIST-format IDX files (``per_class`` train and ``per_class // 2`` test
    images per class, classes interleaved) and return their directory."""

    def make(
        name: str = "idx", per_class: int = 10, size: int = 12, gz: bool = False, classes: int = 10
    ) -> Path:
        directory = tmp_path / name
        directory.mkdir(parents=True)
        suffix = ".gz" if gz else ""
        for split, count, seed in (("train", per_class, 1), ("t10k", per_class // 2, 2)):
            labels = np.tile(np.arange(classes), count).astype(np.uint8)
            images = digit_like(labels, size, seed)
            write_idx(directory / f"{split}-images-idx3-ubyte{suffix}", images)
            write_idx(directory / f"{split}-labels-idx1-ubyte{suffix}", labels)
        return directory

    return make


@pytest.fixture
def cifar_source(tmp_path: Path) -> Callable[..., Path]:
    """Write the six CIFAR-10 python batches with ``per_batch`` random images each."""

    def make(per_batch: int = 20) -> Path:
        directory = tmp_path / "cifar-10-batches-py"
        directory.mkdir()
        rng = np.random.default_rng(0)
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for name in names:
            batch = {
                b"batch_label": name.encode(),
                b"labels": [i % 10 for i in range(per_batch)],
                b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                b"filenames": [f"{i}.png".encode() for i in range(per_batch)],
            }
            with (directory / name).open("wb") as f:
                pickle.dump(batch, f)
        return directory

    return make


@pytest.fixture
def disent_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write a DisEnt folder in one of its three variants.

    ``cmnist``: valid flat under <pct>pct/valid; ``cifar10c``: valid in class folders;
    ``bffhq``: valid/ and test/ flat at the root. Two classes, two bias values; each
    ratio folder has 3 aligned + 1 conflicting image per class.
    """

    def make(variant: str, pcts: tuple[str, ...] = ("0.5", "1")) -> Path:
        root = tmp_path / variant
        index = 0

        def put(directory: Path, y: int, b: int, folder: bool) -> None:
            nonlocal index
            where = directory / str(y) if folder else directory
            write_png(where / f"{index:05d}_{y}_{b}.png", y, b)
            index += 1

        for pct in pcts:
            for y in (0, 1):
                for _ in range(3):
                    put(root / f"{pct}pct" / "align", y, y, folder=True)
                put(root / f"{pct}pct" / "conflict", y, 1 - y, folder=True)
            if variant != "bffhq":
                for y, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
                    put(root / f"{pct}pct" / "valid", y, b, folder=variant == "cifar10c")
        if variant == "bffhq":
            for y, b in ((0, 0), (1, 0), (1, 1)):
                put(root / "valid", y, b, folder=False)
        for y, b in ((0, 0), (0, 1), (1, 0), (1, 1), (1, 1)):
            put(root / "test", y, b, folder=variant != "bffhq")
        return root

    return make
