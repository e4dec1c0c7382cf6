"""``corrupted``: the Corrupted CIFAR-10 construction (DESIGN.md 2.2) on any 10-class source.

Defaults to Fashion-MNIST (the 70,000-image source available without a
download); ``--source DIR`` with CIFAR-10 python batches gives Corrupted CIFAR-10
proper.
"""

from __future__ import annotations

from rest.data.datasets.base import DATASETS, Benchmark
from rest.data.generators import corrupted

CORRUPTED = DATASETS.register("corrupted")(
    Benchmark(
        name="corrupted",
        summary="Corrupted images: the corruption type (LfF Type0: snow ... saturate) is the bias",
        default_source="fashion-mnist",
        transform=corrupted.corrupt,
        describe=corrupted.describe,
        augment="crop_flip",
        model="resnet18",
        heldout="published",
        flat_valid=False,
    )
)
