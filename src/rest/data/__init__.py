"""Biased datasets: generated benchmarks by name, or a user's files by path.

The training code calls :func:`load_dataset` with a :class:`DataConfig` and gets
:class:`BiasedSplits` whose images are decoded once into uint8 tensors.
"""

from __future__ import annotations

from pathlib import Path

from rest.data.access import permission_checked
from rest.data.arrays import SplitArrays, assemble
from rest.data.cache import read_cached
from rest.data.config import DataConfig
from rest.data.dataset import UNKNOWN_BIAS, BiasedDataset, BiasedSplits
from rest.data.datasets import DATASETS, Benchmark
from rest.data.images import resize_images
from rest.data.make import make_dataset
from rest.data.readers import READERS, find_reader, read_path
from rest.data.sources import SOURCES, load_source
from rest.errors import RestError


def load_dataset(config: DataConfig, build_cache: bool = True) -> BiasedSplits:
    """The dataset ``config`` names: a registered benchmark, generated in memory and
    deterministic in (source, conflict_pct, severity, data_seed), or a path read with
    the matching reader -- decoded once into ``config.cache_dir`` and memory-mapped
    from there (:mod:`rest.data.cache`; ``build_cache=False`` uses a valid entry but
    writes none). ``config.image_size`` resizes every split."""
    with permission_checked():
        return _load(config, build_cache)


def _load(config: DataConfig, build_cache: bool) -> BiasedSplits:
    path = Path(config.dataset).expanduser()
    generated = config.dataset in DATASETS
    if not generated and not path.exists() and not _looks_like_path(config.dataset):
        raise RestError(  # a misspelt name, named before its settings are judged
            f"unknown dataset {config.dataset!r}: not a registered dataset "
            f"({', '.join(DATASETS.names())}) nor an existing path"
        )
    config.check_fields_read(DATASETS.names())
    if generated:
        splits = DATASETS.get(config.dataset).generate(config)
    else:
        splits, _ = read_cached(path, config, build_cache)
    if config.image_size is not None:
        splits = _resized(splits, config.image_size)
    return splits


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith((".", "~")) or text.endswith(".csv")


def _resized(splits: BiasedSplits, size: int) -> BiasedSplits:
    if splits.train.image_shape[1:] == (size, size):
        return splits

    def arrays(split: BiasedDataset) -> SplitArrays:
        images = resize_images(split.images.numpy(), size)
        return SplitArrays(images, split.targets.numpy(), split.biases.numpy())

    return assemble(
        splits.name,
        arrays(splits.train),
        None if splits.valid is None else arrays(splits.valid),
        arrays(splits.test),
        dict(splits.info),
        num_classes=splits.train.num_classes,
        num_biases=splits.train.num_biases,
        aligned_bias=splits.train.aligned_bias,
    )


__all__ = [
    "DATASETS",
    "READERS",
    "SOURCES",
    "UNKNOWN_BIAS",
    "Benchmark",
    "BiasedDataset",
    "BiasedSplits",
    "DataConfig",
    "find_reader",
    "load_dataset",
    "load_source",
    "make_dataset",
    "read_path",
]
