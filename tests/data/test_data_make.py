"""``make_dataset``: DisEnt layout, manifest, byte-identical output, in-memory == on-disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rest.data import DataConfig, load_dataset, make_dataset
from rest.data.images import read_images, write_pngs
from rest.data.manifest import MANIFEST, tree_digest
from rest.errors import RestError


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_png_is_lossless(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 7, 9), dtype=np.uint8)
    paths = [tmp_path / f"{i}.png" for i in range(5)]
    write_pngs(images, paths)
    np.testing.assert_array_equal(read_images(paths), images)


def test_cmnist_layout_and_manifest(idx_source, tmp_path: Path) -> None:
    source = str(idx_source(per_class=20))  # 18 train / 2 valid / 10 test per class
    out = tmp_path / "cmnist"
    manifest = make_dataset("cmnist", out, [5, 1], source=source, data_seed=7)
    assert sorted(p.name for p in out.iterdir()) == ["1pct", "5pct", MANIFEST, "test"]
    assert sorted(p.name for p in (out / "1pct").iterdir()) == ["align", "conflict", "valid"]
    assert all(p.is_file() for p in (out / "1pct" / "valid").iterdir())  # CMNIST: flat valid
    assert sorted(p.name for p in (out / "test").iterdir()) == [str(y) for y in range(10)]
    assert (
        len(list((out / "5pct" / "conflict").rglob("*.png"))) == 10
    )  # round(0.05 * 18) = 1 per class
    for png in (out / "5pct" / "align").rglob("*.png"):
        y, b = png.stem.split("_")[1:]
        assert y == b == png.parent.name
    written = json.loads((out / MANIFEST).read_text())
    assert written == manifest
    assert written["data_seed"] == 7 and written["conflict_pcts"] == [1.0, 5.0]
    assert written["generator"] == "cmnist" and written["source"] == str(Path(source).resolve())
    assert written["parameters"]["colour_noise_std"] == 0.005
    assert (written["sha256"], written["files"]) == tree_digest(out)
    assert written["heldout"] == "counterfactual"  # valid and test: every digit in 10 colours
    assert written["files"] == 2 * 180 + 2 * 20 * 10 + 100 * 10


def test_same_seed_gives_byte_identical_files(idx_source, tmp_path: Path) -> None:
    source = str(idx_source())
    first = make_dataset("corrupted", tmp_path / "a", [1, 2], source=source, data_seed=3)
    again = make_dataset("corrupted", tmp_path / "b", [1, 2], source=source, data_seed=3)
    other = make_dataset("corrupted", tmp_path / "c", [1, 2], source=source, data_seed=4)
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert first["sha256"] == again["sha256"] != other["sha256"]


@pytest.mark.parametrize("name", ["cmnist", "corrupted"])
def test_in_memory_equals_written_then_read(name: str, idx_source, tmp_path: Path) -> None:
    source = str(idx_source())
    make_dataset(name, tmp_path / name, [1, 5], source=source, severity=2, data_seed=1)
    for pct in (1, 5):
        common = {"conflict_pct": pct, "severity": 2, "data_seed": 1}
        memory = load_dataset(DataConfig(dataset=name, source=source, **common))
        disk = load_dataset(DataConfig(dataset=str(tmp_path / name), conflict_pct=pct))
        for split in ("train", "valid", "test"):
            a, b = getattr(memory, split), getattr(disk, split)
            assert torch.equal(a.images, b.images), split
            assert torch.equal(a.targets, b.targets) and torch.equal(a.biases, b.biases)
            assert torch.equal(a.aligned_bias, b.aligned_bias)
        for key in ("augment", "model", "input_shape", "severity", "data_seed"):
            assert memory.info[key] == disk.info[key], key


def test_refuses_non_empty_out_unless_forced(idx_source, tmp_path: Path) -> None:
    source = str(idx_source())
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(RestError, match="not empty; pass --force"):
        make_dataset("cmnist", out, [1], source=source)
    assert (out / "keep.txt").exists()
    make_dataset("cmnist", out, [1], source=source, force=True)
    assert not (out / "keep.txt").exists() and (out / MANIFEST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "out"]  # no temp leftovers


def test_failure_half_way_leaves_nothing(idx_source, tmp_path: Path, monkeypatch) -> None:
    source = str(idx_source())
    calls = []

    def failing_write(images, paths, desc="writing"):
        calls.append(desc)
        if len(calls) == 2:
            raise OSError("disk full")
        write_pngs(images, paths, desc)

    monkeypatch.setattr("rest.data.make.write_pngs", failing_write)
    with pytest.raises(OSError, match="disk full"):
        make_dataset("cmnist", tmp_path / "new" / "out", [1], source=source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_make_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(RestError, match="unknown dataset 'nope'"):
        make_dataset("nope", tmp_path / "x", [1])
    with pytest.raises(RestError, match="severity"):
        make_dataset("cmnist", tmp_path / "x", [1], severity=0)
    with pytest.raises(RestError, match=r"conflict_pct.*\[0, 100\]"):
        make_dataset("cmnist", tmp_path / "x", [150])
    assert not (tmp_path / "x").exists()
