"""``cmnist``: Colored MNIST from the 5,000 built-in digits (or any MNIST-format IDX files).

Valid and test are counterfactual by default: 50 held-out digits per class in one
colour each would leave 5 images per (y, b) group, and worst-group accuracy would
move in steps of 20 points; every digit in all ten colours gives 50 per group.
``--heldout published`` restores the LfF/DisEnt one-colour-per-image splits.
"""

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
        heldout="counterfactual",
        flat_valid=True,
    )
)
