"""NumPy arrays of one split, and their assembly into :class:`BiasedSplits`.

Readers and generators work in NumPy (PIL, SciPy and ``np.load`` all speak it) and
hand over :class:`SplitArrays`; :func:`assemble` turns them into the torch-backed
:class:`~rest.data.dataset.BiasedSplits` in one place, so the class and bias
counts and the aligned bias are derived the same way for every source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rest.data.dataset import UNKNOWN_BIAS, BiasedDataset, BiasedSplits, majority_bias
from rest.errors import RestError


@dataclass(frozen=True)
class SplitArrays:
    """``images`` uint8 ``(N, C, H, W)``, ``targets`` and ``biases`` int64 ``(N,)``."""

    images: np.ndarray
    targets: np.ndarray
    biases: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])


def assemble(
    name: str,
    train: SplitArrays,
    valid: SplitArrays | None,
    test: SplitArrays,
    info: dict[str, object],
    *,
    num_classes: int | None = None,
    num_biases: int | None = None,
    aligned_bias: torch.Tensor | None = None,
) -> BiasedSplits:
    """Build the splits; class/bias counts default to ``max + 1`` over all splits.

    ``aligned_bias`` defaults to the majority bias of each class in the train split.
    ``info["input_shape"]`` is filled in from the images.
    """
    parts = [s for s in (train, valid, test) if s is not None]
    _check_same_shape(name, {"train": train, "valid": valid, "test": test})
    if num_classes is None:
        num_classes = max(int(s.targets.max(initial=0)) for s in parts) + 1
    if num_biases is None:
        num_biases = max(int(s.biases.max(initial=UNKNOWN_BIAS)) for s in parts) + 1
    if aligned_bias is None:
        aligned_bias = majority_bias(
            _tensor(train.targets, np.int64), _tensor(train.biases, np.int64), num_classes
        )

    def dataset(split: SplitArrays, split_name: str) -> BiasedDataset:
        return BiasedDataset(
            images=_tensor(split.images, np.uint8),
            targets=_tensor(split.targets, np.int64),
            biases=_tensor(split.biases, np.int64),
            num_classes=num_classes,
            num_biases=max(num_biases, 1),
            name=split_name,
            aligned_bias=aligned_bias,
        )

    c, h, w = (int(v) for v in train.images.shape[1:])
    info = {**info, "input_shape": (c, h, w)}
    return BiasedSplits(
        train=dataset(train, "train"),
        valid=None if valid is None else dataset(valid, "valid"),
        test=dataset(test, "test"),
        name=name,
        info=info,
    )


def _check_same_shape(name: str, splits: dict[str, SplitArrays | None]) -> None:
    """Every split must hold images of one shape; say which differ and how to fix it."""
    shapes = {k: tuple(int(v) for v in s.images.shape[1:]) for k, s in splits.items() if s}
    if len(set(shapes.values())) == 1:
        return
    listed = ", ".join(f"{k} {c}x{h}x{w}" for k, (c, h, w) in shapes.items())
    if len({c for c, _, _ in shapes.values()}) > 1:
        fix = "the splits differ in their number of channels; convert the files to one format"
    else:
        fix = "pass --image-size N to resize every split to N x N"
    raise RestError(f"{name}: the splits have different image shapes ({listed}); {fix}")


def _tensor(array: np.ndarray, dtype: type) -> torch.Tensor:
    """A tensor sharing the array's memory where it can (contiguous, writable, right dtype)."""
    array = np.ascontiguousarray(array, dtype=dtype)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array)
