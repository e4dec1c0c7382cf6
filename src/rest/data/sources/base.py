"""What an image source hands to the generators: labelled images in three fixed splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rest.data.partition import stratified_split
from rest.errors import RestError

# Share of a source's training images kept for validation when it ships only train/test.
VALID_FRACTION = 0.1


@dataclass(frozen=True)
class LabeledImages:
    """``images`` uint8 ``(N, C, H, W)`` with C = 1 or 3; ``labels`` int64 ``(N,)``."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, indices: np.ndarray) -> LabeledImages:
        return LabeledImages(self.images[indices], self.labels[indices])


@dataclass(frozen=True)
class ImageSource:
    """A 10-class (or fewer) image collection split into train, valid and test.

    ``name`` identifies it in manifests and cache keys (a registered name or an
    absolute path); ``description`` says in words what it is and how it was split.
    """

    name: str
    description: str
    train: LabeledImages
    valid: LabeledImages
    test: LabeledImages

    @property
    def num_classes(self) -> int:
        return int(max(s.labels.max() for s in (self.train, self.valid, self.test))) + 1

    def split(self, name: str) -> LabeledImages:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]


def with_valid_from_train(
    name: str, description: str, train: LabeledImages, test: LabeledImages
) -> ImageSource:
    """A source whose validation split is the last 10% of each class of ``train``."""
    if len(train) < 2 or len(test) < 1:
        raise RestError(f"{name}: too few images ({len(train)} train, {len(test)} test)")
    keep, valid = stratified_split(train.labels, (1 - VALID_FRACTION, VALID_FRACTION))
    return ImageSource(
        name=name,
        description=f"{description}; valid = last 10% of each class of its train split",
        train=train.take(keep),
        valid=train.take(valid),
        test=test,
    )
