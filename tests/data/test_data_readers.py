"""Readers: the three DisEnt variants, LfF arrays, metadata CSV, autodetection."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from data_testing import write_png

from rest.data import DataConfig, find_reader, load_dataset
from rest.data.readers.disent import conflict_ratios
from rest.errors import RestError


def test_disent_cmnist_variant(disent_dir) -> None:
    root = disent_dir("cmnist")
    assert list(conflict_ratios(root)) == [0.5, 1.0]
    splits = load_dataset(DataConfig(dataset=str(root), conflict_pct=1))
    assert [len(s) for s in splits.splits().values()] == [8, 4, 5]
    assert splits.train.group_counts() == {(0, 0): 3, (0, 1): 1, (1, 0): 1, (1, 1): 3}
    assert int(splits.train.conflicting.sum()) == 2
    assert splits.valid is not None and splits.valid.group_counts() == {
        (0, 0): 1, (0, 1): 1, (1, 0): 1, (1, 1): 1
    }  # fmt: skip
    assert splits.test.group_counts() == {(0, 0): 1, (0, 1): 1, (1, 0): 1, (1, 1): 2}
    assert splits.info["reader"] == "disent" and splits.info["conflict_pct"] == 1
    assert splits.train.images.shape == (8, 3, 8, 8)


def test_disent_labels_come_from_file_names_and_pixels_match(disent_dir) -> None:
    splits = load_dataset(DataConfig(dataset=str(disent_dir("cifar10c")), conflict_pct=0.5))
    images = splits.train.images.numpy()
    # write_png encodes y in the red and b in the green channel.
    np.testing.assert_array_equal(images[:, 0, 1, 1], 20 * splits.train.targets.numpy())
    np.testing.assert_array_equal(images[:, 1, 1, 1], 20 * splits.train.biases.numpy())
    assert splits.valid is not None and len(splits.valid) == 4  # valid in class folders
    assert splits.info["augment"] == "crop_flip"  # not 28x28: natural-image defaults


def test_disent_bffhq_variant_with_root_valid_and_flat_test(disent_dir) -> None:
    root = disent_dir("bffhq", pcts=("0.5",))
    splits = load_dataset(DataConfig(dataset=str(root), conflict_pct=0.5))
    assert splits.valid is not None and len(splits.valid) == 3
    assert splits.info["valid"] == str((root / "valid").resolve())
    assert len(splits.test) == 5


def test_disent_train_order_follows_file_names(disent_dir) -> None:
    root = disent_dir("cmnist", pcts=("1",))
    splits = load_dataset(DataConfig(dataset=str(root)))
    # Files are numbered in writing order: class 0 aligned x3, conflict, class 1 ...
    assert splits.train.targets.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert splits.train.biases.tolist() == [0, 0, 0, 1, 1, 1, 1, 0]


def test_disent_missing_ratio_lists_present_ones(disent_dir) -> None:
    with pytest.raises(RestError, match=r"no 2pct/ folder .* present: 0\.5, 1$"):
        load_dataset(DataConfig(dataset=str(disent_dir("cmnist")), conflict_pct=2))


def test_image_size_resizes_on_load(disent_dir) -> None:
    config = DataConfig(dataset=str(disent_dir("cmnist")), image_size=5)
    assert load_dataset(config).train.images.shape == (8, 3, 5, 5)


def write_lff(root: Path, n_train: int = 12, n_valid: int = 9, channels: bool = True) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("valid", n_valid)):
        (root / split).mkdir(parents=True)
        shape = (n, 6, 6, 3) if channels else (n, 6, 6)
        np.save(root / split / "images.npy", rng.integers(0, 256, shape, dtype=np.uint8))
        y = np.arange(n) % 3
        b = y.copy() if split == "train" else (np.arange(n) // 3) % 3
        if split == "train":
            b[0] = 1  # one conflicting training sample
        np.save(root / split / "attrs.npy", np.stack([y, b, np.zeros(n, int)], axis=1))


def test_lff_reader_splits_valid_into_valid_and_test(tmp_path: Path) -> None:
    write_lff(tmp_path / "lff")
    splits = load_dataset(DataConfig(dataset=str(tmp_path / "lff")))
    assert splits.info["reader"] == "lff"
    assert splits.train.images.shape == (12, 3, 6, 6)
    assert splits.valid is not None
    # 9 groups of one image each, dealt alternately: 5 to valid, 4 to test.
    assert (len(splits.valid), len(splits.test)) == (5, 4)
    assert set(splits.valid.group_counts()) | set(splits.test.group_counts()) == {
        (y, b) for y in range(3) for b in range(3)
    }
    assert splits.info["conflict_pct"] == pytest.approx(100 / 12, abs=1e-3)
    assert "LfF has no test split" in str(splits.info["test"])


def test_lff_grayscale_arrays(tmp_path: Path) -> None:
    write_lff(tmp_path / "gray", n_valid=18, channels=False)
    splits = load_dataset(DataConfig(dataset=str(tmp_path / "gray"), layout="lff"))
    assert splits.train.images.shape == (12, 1, 6, 6)
    assert splits.valid is not None and len(splits.valid) == len(splits.test) == 9


def test_lff_wrong_dtype(tmp_path: Path) -> None:
    write_lff(tmp_path / "lff")
    np.save(tmp_path / "lff" / "train" / "images.npy", np.zeros((12, 6, 6, 3), np.float32))
    with pytest.raises(RestError, match="expected uint8 images"):
        load_dataset(DataConfig(dataset=str(tmp_path / "lff")))


def test_lff_npz_archive_under_an_npy_name(tmp_path: Path) -> None:
    write_lff(tmp_path / "lff")
    archive = tmp_path / "lff" / "valid" / "attrs.npy"
    with archive.open("wb") as f:
        np.savez(f, attrs=np.zeros((9, 2), np.int64))
    with pytest.raises(RestError, match=r"valid/attrs.npy is not a .npy array file"):
        load_dataset(DataConfig(dataset=str(tmp_path / "lff")))


def write_waterbirds(root: Path, sizes: tuple[int, ...] = (8,)) -> Path:
    """A Waterbirds-style metadata.csv with images in sub-folders."""
    rows = []
    for i in range(14):
        split = [0] * 8 + [1] * 2 + [2] * 4
        y = i % 2
        place = y if i not in (3, 12) else 1 - y
        name = f"birds/{i:03d}.png"
        write_png(root / name, y, place, size=sizes[i % len(sizes)])
        rows.append({"img_id": i, "img_filename": name, "y": y, "split": split[i], "place": place})
    with (root / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_csv_reader_waterbirds_defaults(tmp_path: Path) -> None:
    root = write_waterbirds(tmp_path / "waterbirds")
    splits = load_dataset(DataConfig(dataset=str(root)))
    assert [len(s) for s in splits.splits().values()] == [8, 2, 4]
    assert splits.train.aligned_bias.tolist() == [0, 1]
    assert int(splits.train.conflicting.sum()) == 1  # row 3 (row 12 is in test)
    assert splits.info["reader"] == "csv" and splits.info["conflict_pct"] == 12.5
    assert splits.info["model"] == "resnet18"


def test_csv_reader_custom_columns_without_bias_labels(tmp_path: Path) -> None:
    root = tmp_path / "custom"
    lines = ["file,target,part"]
    for i, part in enumerate(["tr", "tr", "tr", "te"]):
        write_png(root / f"{i}.png", i % 2, 0, size=6)
        lines.append(f"{i}.png,{i % 2},{part}")
    (root / "list.csv").write_text("\n".join(lines) + "\n")
    config = DataConfig(
        dataset=str(root / "list.csv"),
        csv_image_column="file",
        csv_label_column="target",
        csv_bias_column="",
        csv_split_column="part",
        csv_split_values="tr,va,te",
    )
    splits = load_dataset(config)
    assert splits.valid is None
    assert not splits.train.has_bias_labels and splits.train.group_counts() == {}
    assert splits.info["conflict_pct"] == 0


def test_csv_images_of_different_sizes_need_image_size(tmp_path: Path) -> None:
    root = write_waterbirds(tmp_path / "mixed", sizes=(8, 10))
    with pytest.raises(RestError, match="--image-size"):
        load_dataset(DataConfig(dataset=str(root)))
    splits = load_dataset(DataConfig(dataset=str(root), image_size=7))
    assert splits.train.images.shape[1:] == (3, 7, 7)


def test_csv_unknown_column(tmp_path: Path) -> None:
    root = write_waterbirds(tmp_path / "wb")
    with pytest.raises(RestError, match=r"no column 'label'.*img_id, img_filename"):
        load_dataset(DataConfig(dataset=str(root), csv_label_column="label"))


def test_autodetection(disent_dir, tmp_path: Path) -> None:
    write_lff(tmp_path / "lff")
    write_waterbirds(tmp_path / "wb")
    assert find_reader(disent_dir("cmnist")).name == "disent"
    assert find_reader(tmp_path / "lff").name == "lff"
    assert find_reader(tmp_path / "wb").name == "csv"
    assert find_reader(tmp_path / "wb" / "metadata.csv").name == "csv"
    with pytest.raises(RestError, match="matches no known dataset layout"):
        find_reader(tmp_path / "wb" / "birds")


def test_loaded_images_are_plain_uint8_tensors(disent_dir) -> None:
    splits = load_dataset(DataConfig(dataset=str(disent_dir("cmnist"))))
    assert splits.train.images.dtype == torch.uint8 and splits.train.images.is_contiguous()


def test_disent_aligned_bias_comes_from_the_align_folder(tmp_path: Path) -> None:
    root = tmp_path / "swapped"
    for i, (part, y, b) in enumerate(
        [("align", 0, 1), ("align", 0, 1), ("align", 1, 0), ("conflict", 0, 0), ("conflict", 1, 1)]
    ):
        write_png(root / "1pct" / part / str(y) / f"{i:05d}_{y}_{b}.png", y, b)
    write_png(root / "test" / "00009_0_1.png", 0, 1)
    splits = load_dataset(DataConfig(dataset=str(root)))
    assert splits.train.aligned_bias.tolist() == [1, 0]
    assert splits.train.conflicting.tolist() == [False, False, False, True, True]
    assert splits.valid is None and splits.info["valid"] == "none"


def test_lff_splits_of_different_sizes_suggest_image_size(tmp_path: Path) -> None:
    write_lff(tmp_path / "lff")
    np.save(tmp_path / "lff" / "valid" / "images.npy", np.zeros((9, 8, 8, 3), np.uint8))
    with pytest.raises(RestError, match=r"train 3x6x6, valid 3x8x8.*pass --image-size N"):
        load_dataset(DataConfig(dataset=str(tmp_path / "lff")))
    splits = load_dataset(DataConfig(dataset=str(tmp_path / "lff"), image_size=8))
    assert splits.train.image_shape == splits.test.image_shape == (3, 8, 8)
