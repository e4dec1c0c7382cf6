"""One split of a generated benchmark, from a source split and a seed.

The bias assignment and the image transform draw from separate seed streams
keyed by ``(data_seed, split, conflict ratio)``, so a split is the same whether
it is generated alone, next to other ratios (``rest data make`` with several
``--conflict-pct``), or in another process. Valid and test do not depend on the
conflict ratio: they are uniform over bias values ("unbiased" evaluation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rest.data.arrays import SplitArrays
from rest.data.generators.assign import assign_biases, uniform_ratio
from rest.data.partition import round_half_up
from rest.data.sources.base import LabeledImages

# (images uint8 (N, C, H, W), biases, severity, seed) -> images uint8 (N, 3, H, W)
Transform = Callable[[np.ndarray, np.ndarray, int, np.random.SeedSequence], np.ndarray]

SPLITS = ("train", "valid", "test")


def split_seed(data_seed: int, split: str, conflict_pct: float) -> np.random.SeedSequence:
    """The seed of one split; only the train split depends on the conflict ratio."""
    ratio_key = round_half_up(conflict_pct * 1000) if split == "train" else 0
    return np.random.SeedSequence([data_seed, SPLITS.index(split), ratio_key])


def generate_split(
    transform: Transform,
    images: LabeledImages,
    split: str,
    num_biases: int,
    conflict_pct: float,
    severity: int,
    data_seed: int,
) -> SplitArrays:
    """Assign biases with exact counts (train: ``conflict_pct``; else uniform) and render."""
    assign_seed, render_seed = split_seed(data_seed, split, conflict_pct).spawn(2)
    ratio = conflict_pct / 100 if split == "train" else uniform_ratio(num_biases)
    biases = assign_biases(images.labels, num_biases, ratio, np.random.default_rng(assign_seed))
    rendered = transform(images.images, biases, severity, render_seed)
    return SplitArrays(rendered, images.labels.astype(np.int64), biases)
