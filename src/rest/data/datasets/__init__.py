"""Generated benchmarks by name: ``DATASETS.get("cmnist").generate(config)``."""

from __future__ import annotations

from rest.data.datasets import cfmnist, cmnist, corrupted
from rest.data.datasets.base import DATASETS, Benchmark

__all__ = ["DATASETS", "Benchmark", "cfmnist", "cmnist", "corrupted"]
