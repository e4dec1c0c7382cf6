"""Partial and stray labels: say what was found and where, and what the user can do."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from data_testing import assert_one_line_error, run_cli, write_png

from rest.data import DataConfig, load_dataset
from rest.errors import RestError


def write_csv(root: Path, blank_bias: tuple[int, ...] = (), label: dict[int, str] | None = None):
    """``metadata.csv`` with 120 train, 20 valid and 20 test rows of one shared image;
    the bias cells of rows ``blank_bias`` are left empty and ``label`` overrides y cells."""
    write_png(root / "img.png", 0, 0)
    rows = []
    for i in range(160):
        y = i % 2
        rows.append(
            {
                "img_filename": "img.png",
                "y": (label or {}).get(i, str(y)),
                "place": "" if i in blank_bias else str(y if i % 10 else 1 - y),
                "split": 0 if i < 120 else (1 if i < 140 else 2),
            }
        )
    with (root / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_one_blank_bias_cell_is_named_not_silently_dropping_the_split(
    tmp_path: Path, capsys
) -> None:
    root = write_csv(tmp_path / "wb", blank_bias=(57,))
    argv = ["data", "info", str(root)]
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(
        code,
        err,
        "1 of 120 train rows have no bias label in column 'place' (lines 59)",
        "--csv-missing-bias drop",
        "--csv-bias-column ''",
    )


def test_drop_leaves_out_the_rows_without_a_bias_label(tmp_path: Path) -> None:
    root = write_csv(tmp_path / "wb", blank_bias=(3, 57, 125))
    splits = load_dataset(DataConfig(dataset=str(root), csv_missing_bias="drop"))
    assert [len(s) for s in splits.splits().values()] == [118, 19, 20]
    assert all(s.has_bias_labels for s in splits.splits().values())
    assert splits.info["dropped_rows"] == "3 without a bias label (--csv-missing-bias drop)"


def test_a_split_without_any_bias_label_is_still_data_without_bias_labels(tmp_path: Path) -> None:
    root = write_csv(tmp_path / "wb", blank_bias=tuple(range(120)))
    splits = load_dataset(DataConfig(dataset=str(root)))
    assert not splits.train.has_bias_labels and splits.valid.has_bias_labels


def test_csv_errors_use_the_users_column_names(tmp_path: Path) -> None:
    root = write_csv(tmp_path / "wb", label={4: "cat"})
    with pytest.raises(RestError, match=r"line 6: column 'y' must hold a non-negative integer"):
        load_dataset(DataConfig(dataset=str(root)))


def test_a_stray_csv_label_names_its_line_and_the_flag(tmp_path: Path) -> None:
    root = write_csv(tmp_path / "wb", label={130: "99999"})
    with pytest.raises(RestError) as error:
        load_dataset(DataConfig(dataset=str(root)))
    message = str(error.value)
    assert "metadata.csv line 132 has label y=99999" in message
    assert "99997 of the values 0..99999 never occur (2, 3, 4, ...)" in message
    assert "--num-classes 100000" in message


def test_a_stray_file_name_label_is_refused_naming_the_file(disent_dir, capsys) -> None:
    root = disent_dir("cmnist", pcts=("1",))
    stray = root / "test" / "1" / "00999_99999_1.png"
    write_png(stray, 1, 1)
    code, _, err = run_cli(["data", "info", str(root)], capsys)
    assert_one_line_error(code, err, f"the file {stray} has label y=99999", "--num-classes")


def test_declared_classes_allow_empty_ones_and_bound_the_labels(disent_dir) -> None:
    root = disent_dir("cmnist", pcts=("1",))
    write_png(root / "test" / "1" / "00999_4_1.png", 1, 1)
    with pytest.raises(RestError, match=r"has label y=4, but 2 of the values 0..4 never occur"):
        load_dataset(DataConfig(dataset=str(root)))
    splits = load_dataset(DataConfig(dataset=str(root), num_classes=5))
    assert splits.train.num_classes == 5 and len(splits.test) == 6
    with pytest.raises(RestError, match=r"00999_4_1.png has label y=4, but --num-classes is 3"):
        load_dataset(DataConfig(dataset=str(root), num_classes=3))


def test_a_stray_bias_label_in_lff_arrays_names_the_row(tmp_path: Path) -> None:
    root = tmp_path / "lff"
    for split, n in (("train", 12), ("valid", 8)):
        (root / split).mkdir(parents=True)
        attrs = np.stack([np.arange(n) % 2, np.arange(n) % 2], axis=1)
        if split == "valid":
            attrs[5, 1] = 70000
        np.save(root / split / "images.npy", np.zeros((n, 4, 4, 3), np.uint8))
        np.save(root / split / "attrs.npy", attrs)
    with pytest.raises(RestError, match=r"row 5 of .*valid/attrs.npy has bias label b=70000"):
        load_dataset(DataConfig(dataset=str(root)))


def test_declaring_classes_of_a_generated_benchmark_is_refused() -> None:
    with pytest.raises(RestError, match="--num-classes is for a dataset path; cmnist"):
        load_dataset(DataConfig(dataset="cmnist", num_classes=10))
