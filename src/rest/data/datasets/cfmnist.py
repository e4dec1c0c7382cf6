"""``cfmnist``: Colored Fashion-MNIST, the Colored MNIST construction on 70,000 clothing images."""

from __future__ import annotations

from rest.data.datasets.base import DATASETS, Benchmark
from rest.data.generators import colored

CFMNIST = DATASETS.register("cfmnist")(
    Benchmark(
        name="cfmnist",
        summary="Colored Fashion-MNIST: the garment's colour is the bias",
        default_source="fashion-mnist",
        transform=colored.colorize,
        describe=colored.describe,
        augment="none",
        model="cnn",
        heldout="published",
        flat_valid=True,
    )
)
