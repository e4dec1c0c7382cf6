"""``cmnist``: Colored MNIST from the 5,000 built-in digits (or any MNIST-format IDX files)."""

from __future__ import annotations

from rest.data.datasets.base import DATASETS, Benchmark
from rest.data.generators import colored

CMNIST = DATASETS.register("cmnist")(
    Benchmark(
        name="cmnist",
        summary="Colored MNIST: the digit's colour is the bias",
        default_source="mnist5k",
        transform=colored.colorize,
        describe=colored.describe,
        augment="none",
        model="cnn",
        flat_valid=True,
    )
)
