"""One split of a generated benchmark, from a source split and a seed.

The bias assignment and the image transform draw from separate seed streams
keyed by ``(data_seed, split, conflict ratio)``, so a split is the same whether
it is generated alone, next to other ratios (``rest data make`` with several
``--conflict-pct``), or in another process. Valid and test do not depend on the
conflict ratio: they are uniform over bias values ("unbiased" evaluation), in one
of two protocols:

- ``published`` (LfF/DisEnt): each image gets one bias value, with exact uniform
  counts. On a small source the groups are tiny (5 images per group from 50
  digits per class), so worst-group accuracy moves in steps of 20 points.
- ``counterfactual``: each image is rendered once under every bias value, image
  by image (sample ``i * num_biases + k`` is image ``i`` with bias ``k``). Every
  group ``(y, b)`` then holds all the images of class ``y``, the groups differ
  only in the bias, and a prediction that changes with the bias of one image is
  a measured, not sampled, failure of invariance.
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
HELDOUT_PROTOCOLS = ("counterfactual", "published")


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
    heldout: str = "published",
) -> SplitArrays:
    """Assign biases with exact counts (train: ``conflict_pct``; valid and test: uniform,
    by the ``heldout`` protocol) and render."""
    if heldout not in HELDOUT_PROTOCOLS:
        raise ValueError(f"heldout must be one of {HELDOUT_PROTOCOLS}, got {heldout!r}")
    assign_seed, render_seed = split_seed(data_seed, split, conflict_pct).spawn(2)
    if split != "train" and heldout == "counterfactual":
        return _counterfactual(transform, images, num_biases, severity, render_seed)
    ratio = conflict_pct / 100 if split == "train" else uniform_ratio(num_biases)
    biases = assign_biases(images.labels, num_biases, ratio, np.random.default_rng(assign_seed))
    rendered = transform(images.images, biases, severity, render_seed)
    return SplitArrays(rendered, images.labels.astype(np.int64), biases)


def _counterfactual(
    transform: Transform,
    images: LabeledImages,
    num_biases: int,
    severity: int,
    render_seed: np.random.SeedSequence,
) -> SplitArrays:
    """Every image under every bias value: ``num_biases`` consecutive copies per image."""
    copies = np.repeat(images.images, num_biases, axis=0)
    biases = np.tile(np.arange(num_biases, dtype=np.int64), len(images))
    rendered = transform(copies, biases, severity, render_seed)
    return SplitArrays(rendered, np.repeat(images.labels.astype(np.int64), num_biases), biases)
