"""Fixed, seed-free partitions of a labelled array into consecutive parts per class.

Validation and test parts carved out of a source must not move when the data or
training seed changes, and must keep the class balance, so each class is cut by
position: the first images of a class go to the first part, the last ones to
the last part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (Python's ``round`` rounds halves to even)."""
    return math.floor(x + 0.5 + 1e-9)


def stratified_split(labels: np.ndarray, fractions: Sequence[float]) -> list[np.ndarray]:
    """Index arrays, one per fraction, splitting every class by position.

    Each part after the first takes ``round(fraction * n_class)`` images of every
    class, from the end of the class backwards; the first part takes the rest.
    Indices stay in their original order within each part.
    """
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for label in np.unique(labels):
        indices = np.flatnonzero(labels == label)
        sizes = [round_half_up(f * len(indices)) for f in fractions[1:]]
        bounds = np.cumsum([len(indices) - sum(sizes), *sizes])[:-1]
        for part, chunk in zip(parts, np.split(indices, bounds), strict=True):
            part.append(chunk)
    return [np.sort(np.concatenate(p)) if p else np.empty(0, dtype=np.int64) for p in parts]
