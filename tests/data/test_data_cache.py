"""The decoded-dataset cache: built once, shared, keyed by options, invalidated by changes."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import torch
from data_testing import write_png

from rest.data import load_dataset
from rest.data.cache import read_cached
from rest.data.config import DataConfig


def assert_same_splits(a, b) -> None:
    assert a.name == b.name and a.info == b.info
    assert list(a.splits()) == list(b.splits())
    for name, split in a.splits().items():
        other = b.splits()[name]
        assert torch.equal(split.images, other.images), name
        assert torch.equal(split.targets, other.targets), name
        assert torch.equal(split.biases, other.biases), name
        assert torch.equal(split.aligned_bias, other.aligned_bias), name
        assert (split.num_classes, split.num_biases) == (other.num_classes, other.num_biases)


def test_a_second_load_comes_from_the_cache_and_equals_a_fresh_decode(disent_dir, tmp_path):
    root = disent_dir("cmnist")
    cache = tmp_path / "cache"
    config = DataConfig(dataset=str(root), cache_dir=str(cache))
    first = load_dataset(config)
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert len(entries) == 1 and (entries[0] / "train-images.npy").is_file()
    second, built = read_cached(root, config)
    assert not built
    uncached = load_dataset(DataConfig(dataset=str(root), cache_dir="none"))
    assert_same_splits(first, uncached)
    assert_same_splits(second, uncached)


def test_options_that_change_pixels_or_labels_get_their_own_entry(disent_dir, tmp_path):
    root = disent_dir("cmnist")
    cache = str(tmp_path / "cache")
    _, built = read_cached(root, DataConfig(dataset=str(root), cache_dir=cache))
    assert built
    small, built = read_cached(root, DataConfig(dataset=str(root), cache_dir=cache, image_size=4))
    assert built and small.train.image_shape == (3, 4, 4)
    _, built = read_cached(root, DataConfig(dataset=str(root), cache_dir=cache, conflict_pct=0.5))
    assert built
    _, built = read_cached(root, DataConfig(dataset=str(root), cache_dir=cache, image_size=4))
    assert not built
    relative = os.path.relpath(root)
    _, built = read_cached(Path(relative), DataConfig(dataset=relative, cache_dir=cache))
    assert not built  # the same folder, named differently


def test_a_changed_or_added_source_file_rebuilds_the_entry(disent_dir, tmp_path):
    root = disent_dir("cmnist")
    config = DataConfig(dataset=str(root), cache_dir=str(tmp_path / "cache"))
    before, _ = read_cached(root, config)
    test_file = sorted((root / "test").rglob("*.png"))[0]
    stat = test_file.stat()
    write_png(test_file, 0, 0, size=8)
    pixels = test_file.read_bytes()
    write_png(test_file, 0, 0, size=8)  # same bytes, so only the time can tell
    assert test_file.read_bytes() == pixels
    os.utime(test_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    _, built = read_cached(root, config)
    assert built

    write_png(root / "test" / "1" / "99999_1_0.png", 1, 0)
    grown, built = read_cached(root, config)
    assert built and len(grown.test) == len(before.test) + 1
    assert_same_splits(grown, load_dataset(DataConfig(dataset=str(root), cache_dir="none")))


def _load_in_child(root: str, cache: str, barrier, results) -> None:
    barrier.wait()
    splits, built = read_cached(Path(root), DataConfig(dataset=root, cache_dir=cache))
    results.put((built, int(splits.train.images.long().sum())))


def test_runs_starting_together_decode_once(disent_dir, tmp_path):
    root = disent_dir("cmnist")
    cache = str(tmp_path / "cache")
    context = multiprocessing.get_context("spawn")
    processes = 3
    barrier, results = context.Barrier(processes), context.Queue()
    children = [
        context.Process(target=_load_in_child, args=(str(root), cache, barrier, results))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert sorted(built for built, _ in outcomes) == [False, False, True]
    assert len({checksum for _, checksum in outcomes}) == 1
    assert [p.name for p in Path(cache).iterdir() if p.is_dir()] != []
    assert not [p for p in Path(cache).iterdir() if p.name.startswith(".")]  # no leftovers


def test_data_info_uses_an_entry_but_never_writes_one(disent_dir, tmp_path, capsys):
    from rest.cli import main

    root = disent_dir("cmnist")
    cache = tmp_path / "cache"
    argv = ["data", "info", str(root), "--conflict-pct", "1", "--cache-dir", str(cache)]
    assert main(argv) == 0
    looked = capsys.readouterr().out
    assert not cache.exists()  # only looking: nothing written, not even the folder
    config = DataConfig(dataset=str(root), cache_dir=str(cache))
    _, built = read_cached(root, config)  # a run builds the entry
    assert built
    entry = next(p for p in cache.iterdir() if p.is_dir())
    (entry / "test-targets.npy").unlink()  # info must read the entry, not decode again
    _, built = read_cached(root, config, build=False)
    assert built  # an unreadable entry is decoded in memory and left as it is
    assert not (entry / "test-targets.npy").exists()
    _, built = read_cached(root, config)
    assert built  # a run rebuilds it
    _, built = read_cached(root, config, build=False)
    assert not built
    assert main(argv) == 0
    assert capsys.readouterr().out == looked
