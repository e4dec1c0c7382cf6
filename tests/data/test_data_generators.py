"""Generators: exact group counts, colours and noise, corruptions, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rest.data import DataConfig, load_dataset
from rest.data.generators.assign import assign_biases, bias_counts, uniform_ratio
from rest.data.generators.color_space import hsv_to_rgb, rgb_to_hsv
from rest.data.generators.colored import COLOURS, NOISE_STD, colorize
from rest.data.generators.corrupted import corrupt
from rest.data.generators.corruptions import CORRUPTIONS, TYPE0


def test_bias_counts_are_exact_and_spread_evenly() -> None:
    counts = bias_counts(n=5400, label=3, num_biases=10, conflict_ratio=0.005)
    assert counts.sum() == 5400
    assert counts[3] == 5400 - 27  # round(0.005 * 5400) = 27 conflicting
    others = np.delete(counts, 3)
    assert sorted(others.tolist()) == [3] * 9
    counts = bias_counts(n=400, label=8, num_biases=10, conflict_ratio=0.01)
    # 4 conflicting over 9 colours: one each for the 4 colours after 8 (9, 0, 1, 2).
    assert counts.tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 396, 1]


def test_uniform_ratio_gives_equal_groups() -> None:
    counts = bias_counts(n=50, label=0, num_biases=10, conflict_ratio=uniform_ratio(10))
    assert counts.tolist() == [5] * 10


def test_assign_biases_matches_counts_and_is_seeded() -> None:
    labels = np.repeat(np.arange(10), 37)
    first = assign_biases(labels, 10, 0.05, np.random.default_rng(1))
    again = assign_biases(labels, 10, 0.05, np.random.default_rng(1))
    other = assign_biases(labels, 10, 0.05, np.random.default_rng(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    for y in range(10):
        got = np.bincount(first[labels == y], minlength=10)
        np.testing.assert_array_equal(got, bias_counts(37, y, 10, 0.05))


def test_colours_are_well_separated() -> None:
    assert COLOURS.shape == (10, 3)
    distances = [np.linalg.norm(a - b) for a, b in itertools.combinations(COLOURS, 2)]
    assert min(distances) >= 0.5


@pytest.mark.parametrize("severity", [1, 4])
def test_colorize_is_digit_times_noisy_colour(severity: int) -> None:
    n = 400
    images = np.full((n, 1, 6, 6), 255, dtype=np.uint8)
    images[:, :, 0, 0] = 0  # background stays black
    biases = np.arange(n) % 10
    out = colorize(images, biases, severity, np.random.SeedSequence(0))
    assert out.shape == (n, 3, 6, 6) and out.dtype == np.uint8
    assert (out[:, :, 0, 0] == 0).all()
    pixel = out[:, :, 3, 3].astype(np.float64) / 255
    deviation = pixel - COLOURS[biases]
    inside = (COLOURS[biases] > 0.05) & (COLOURS[biases] < 0.95)  # not clipped
    std = deviation[inside].std()
    assert NOISE_STD[severity] * 0.7 < std < NOISE_STD[severity] * 1.3 + 0.002
    assert np.abs(deviation).max() < 6 * NOISE_STD[severity] + 0.003


def test_rgb_hsv_round_trip() -> None:
    rgb = np.random.default_rng(0).random((50, 3)).astype(np.float32)
    np.testing.assert_allclose(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-5)


def test_corruption_registry_is_type0() -> None:
    assert len(TYPE0) == 10
    assert sorted(TYPE0) == CORRUPTIONS.names()


@pytest.mark.parametrize("name", TYPE0)
def test_each_corruption_changes_images_deterministically(name: str) -> None:
    rng = np.random.default_rng(0)
    clean = rng.random((6, 16, 16, 3)).astype(np.float32) * 0.6 + 0.2
    corruption = CORRUPTIONS.get(name)
    out = corruption(clean, 4, np.random.default_rng(5))
    assert out.shape == clean.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out - clean).mean() > 0.01, "the corruption should visibly change images"
    np.testing.assert_array_equal(out, corruption(clean, 4, np.random.default_rng(5)))


def test_corrupt_applies_the_corruption_named_by_the_bias() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 1, 16, 16), dtype=np.uint8)
    biases = np.arange(20) % 10
    out = corrupt(images, biases, 4, np.random.SeedSequence(3))
    assert out.shape == (20, 3, 16, 16)
    np.testing.assert_array_equal(out, corrupt(images, biases, 4, np.random.SeedSequence(3)))
    contrast = TYPE0.index("contrast")
    # Contrast shrinks the spread of pixel values; no other corruption is applied there.
    assert out[biases == contrast].std() < 0.5 * images[biases == contrast].std()


def test_cmnist_builtin_has_exact_counts() -> None:
    splits = load_dataset(DataConfig(dataset="cmnist", conflict_pct=1, heldout="published"))
    assert [len(s) for s in splits.splits().values()] == [4000, 500, 500]
    counts = splits.train.group_counts()
    for y in range(10):
        assert counts[(y, y)] == 396
        assert [counts.get((y, (y + k) % 10), 0) for k in range(1, 10)] == [1] * 4 + [0] * 5
    assert int(splits.train.conflicting.sum()) == 40
    assert set(splits.test.group_counts().values()) == {5}
    assert splits.info["augment"] == "none" and splits.info["model"] == "cnn"
    assert splits.info["input_shape"] == (3, 28, 28)


def test_generation_is_deterministic_in_the_data_seed(idx_source) -> None:
    source = str(idx_source())
    config = DataConfig(dataset="corrupted", source=source, conflict_pct=5, data_seed=3)
    first, again = load_dataset(config), load_dataset(config)
    other = load_dataset(DataConfig(dataset="corrupted", source=source, conflict_pct=5))
    for split in ("train", "valid", "test"):
        a, b, c = (getattr(s, split) for s in (first, again, other))
        assert torch.equal(a.images, b.images) and torch.equal(a.biases, b.biases)
        assert not torch.equal(a.images, c.images)
    assert first.info["augment"] == "crop_flip" and first.info["model"] == "resnet18"


def test_valid_and_test_do_not_depend_on_the_conflict_ratio(idx_source) -> None:
    source = str(idx_source())
    low = load_dataset(DataConfig(dataset="cmnist", source=source, conflict_pct=1))
    high = load_dataset(DataConfig(dataset="cmnist", source=source, conflict_pct=5))
    assert torch.equal(low.test.images, high.test.images)
    assert torch.equal(low.valid.biases, high.valid.biases)
