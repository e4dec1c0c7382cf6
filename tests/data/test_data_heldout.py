"""Valid and test of a generated benchmark: counterfactual (default on cmnist) or published."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from rest.data import DataConfig, load_dataset, load_source
from rest.data.generators.colored import COLOURS, NOISE_STD, to_gray
from rest.errors import RestError


def sha256_of(split) -> str:
    digest = hashlib.sha256()
    for tensor in (split.images, split.targets, split.biases):
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def test_builtin_cmnist_heldout_groups_hold_fifty_images_each() -> None:
    splits = load_dataset(DataConfig(dataset="cmnist", conflict_pct=1))
    assert splits.info["heldout"] == "counterfactual"
    assert [len(s) for s in splits.splits().values()] == [4000, 5000, 5000]
    for split in (splits.valid, splits.test):
        counts = split.group_counts()
        assert len(counts) == 100 and set(counts.values()) == {50}
        assert int(split.conflicting.sum()) == 4500
    assert int(splits.train.conflicting.sum()) == 40  # train keeps its protocol


def test_published_protocol_is_byte_identical_to_the_original_generator() -> None:
    # SHA-256 of (images, targets, biases) of the built-in cmnist at data_seed 0,
    # severity 4, 1%, as generated before the counterfactual protocol existed.
    splits = load_dataset(DataConfig(dataset="cmnist", conflict_pct=1, heldout="published"))
    assert splits.info["heldout"] == "published"
    assert {name: sha256_of(split) for name, split in splits.splits().items()} == {
        "train": "d1ac4bd9a85b0b84fbaf3f49e10ae624fa0a04e270ec3f01560fefc4b11ec8b2",
        "valid": "f5c61e6ac167944cc344bf3196b1ccd9155b7f83a8b98f27224da36a564624aa",
        "test": "d9cea8f63fdc2df1670190661695dd6993a358732e50366617542a20936cab43",
    }


def test_counterfactual_copies_are_the_same_image_in_every_colour(idx_source) -> None:
    source = str(idx_source(per_class=20, size=10))
    config = DataConfig(dataset="cmnist", source=source, conflict_pct=1, severity=5)
    splits = load_dataset(config)
    originals = load_source(source).test
    test = splits.test
    n, k = len(originals), 10
    assert len(test) == n * k
    biases = test.biases.numpy().reshape(n, k)
    targets = test.targets.numpy().reshape(n, k)
    np.testing.assert_array_equal(biases, np.tile(np.arange(k), (n, 1)))
    np.testing.assert_array_equal(targets, np.repeat(originals.labels[:, None], k, axis=1))
    # Copy (i, b) is original i times colour b, up to the colour noise and rounding.
    rendered = test.images.numpy().reshape(n, k, 3, 10, 10).astype(np.float64) / 255
    expected = to_gray(originals.images)[:, None, None] * COLOURS[None, :, :, None, None]
    assert np.abs(rendered - expected).max() <= 6 * NOISE_STD[5] + 0.5 / 255


def test_counterfactual_splits_are_deterministic_and_seeded(idx_source) -> None:
    source = str(idx_source())
    first, again = (load_dataset(DataConfig(dataset="cmnist", source=source)) for _ in range(2))
    other = load_dataset(DataConfig(dataset="cmnist", source=source, data_seed=1))
    high = load_dataset(DataConfig(dataset="cmnist", source=source, conflict_pct=5))
    for split in ("valid", "test"):
        a, b, c, d = (getattr(s, split) for s in (first, again, other, high))
        assert torch.equal(a.images, b.images) and torch.equal(a.biases, b.biases)
        assert not torch.equal(a.images, c.images)  # the colour noise follows the seed
        assert torch.equal(a.images, d.images)  # and not the conflict ratio


@pytest.mark.parametrize("name", ["cfmnist", "corrupted"])
def test_large_benchmarks_default_to_published_and_take_counterfactual(name, idx_source) -> None:
    source = str(idx_source())
    auto = load_dataset(DataConfig(dataset=name, source=source))
    assert auto.info["heldout"] == "published" and len(auto.test) == 50
    swapped = load_dataset(DataConfig(dataset=name, source=source, heldout="counterfactual"))
    assert swapped.info["heldout"] == "counterfactual" and len(swapped.test) == 500
    assert set(swapped.test.group_counts().values()) == {5}
    assert torch.equal(auto.train.images, swapped.train.images)


def test_unknown_heldout_protocol_is_refused() -> None:
    with pytest.raises(
        RestError,
        match=r"data.heldout \(--heldout\): expected one of auto, counterfactual, "
        r"published, got 'both'",
    ):
        DataConfig(heldout="both")
