"""A metadata CSV in the group-DRO / Waterbirds / CelebA style.

One row per image: its path (relative to the CSV file, or absolute), the
integer target label, the integer bias label and the split. Defaults follow
Waterbirds' ``metadata.csv`` (``img_filename``, ``y``, ``place``, ``split`` with
0/1/2 = train/valid/test); every column name and the split values are
configurable. An empty bias column name means no bias labels; so does a split
whose bias cells are all empty, while a few empty cells among labelled rows are
refused (or, with ``--csv-missing-bias drop``, those rows left out).
The aligned bias of class ``y`` is the bias most train images of ``y`` carry.
A path may be the CSV file or a directory holding ``metadata.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rest.data.access import permission_denied
from rest.data.arrays import SplitArrays, assemble
from rest.data.dataset import UNKNOWN_BIAS, BiasedSplits
from rest.data.images import read_images
from rest.data.labels import checked_class_count
from rest.data.readers.base import Reader
from rest.errors import RestError

if TYPE_CHECKING:
    from rest.data.config import DataConfig

METADATA = "metadata.csv"
EXPECTS = "a .csv file (or a folder with metadata.csv): image path, label, bias, split columns"
SPLITS = ("train", "valid", "test")


def csv_path(path: Path) -> Path:
    return path / METADATA if path.is_dir() else path


def detect(path: Path) -> bool:
    return (path.is_file() and path.suffix.lower() == ".csv") or (path / METADATA).is_file()


def _integer(value: str, column: str, line: int, path: Path) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = -1
    if number < 0:
        raise RestError(
            f"{path} line {line}: column {column!r} must hold a non-negative integer, got {value!r}"
        )
    return number


Row = tuple[Path, int, int, int]  # image path, y, b, CSV line


def _rows(path: Path, config: DataConfig) -> dict[str, list[Row]]:
    """The CSV's rows by split name: (image path, y, b, line)."""
    columns = [config.csv_image_column, config.csv_label_column, config.csv_split_column]
    bias_column = config.csv_bias_column.strip()
    split_of = dict(zip(config.split_values(), SPLITS, strict=True))
    rows: dict[str, list[Row]] = {split: [] for split in SPLITS}
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in (*columns, bias_column) if c and c not in header]
            if missing:
                raise RestError(
                    f"{path}: no column {', '.join(map(repr, missing))}; its columns are "
                    f"{', '.join(header) or '(none)'} (set the --csv-*-column options)"
                )
            for line, row in enumerate(reader, start=2):
                split = split_of.get((row[config.csv_split_column] or "").strip())
                if split is None:
                    raise RestError(
                        f"{path} line {line}: split value {row[config.csv_split_column]!r} in "
                        f"column {config.csv_split_column!r} is not one of "
                        f"{config.csv_split_values} (train,valid,test)"
                    )
                image = Path(row[config.csv_image_column] or "")
                label_cell = row[config.csv_label_column] or ""
                label = _integer(label_cell, config.csv_label_column, line, path)
                bias_cell = (row[bias_column] or "").strip() if bias_column else ""
                bias = _integer(bias_cell, bias_column, line, path) if bias_cell else UNKNOWN_BIAS
                rows[split].append(
                    (image if image.is_absolute() else path.parent / image, label, bias, line)
                )
    except PermissionError as error:
        raise permission_denied(error) from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RestError(f"cannot read {path}: {error}") from None
    return rows


def _partial_bias(path: Path, split: str, rows: list[Row], config: DataConfig) -> list[Row]:
    """``rows`` when every or no row has a bias label; else refuse, or drop the unlabelled.

    A split whose bias cells are all empty is data without bias labels (common for
    training splits); a few empty cells among labelled rows are a gap in the data,
    which would otherwise silently turn off every group metric of the split.
    """
    unlabelled = [r for r in rows if r[2] == UNKNOWN_BIAS]
    if not unlabelled or len(unlabelled) == len(rows):
        return rows
    if config.csv_missing_bias == "drop":
        return [r for r in rows if r[2] != UNKNOWN_BIAS]
    lines = ", ".join(str(r[3]) for r in unlabelled[:3]) + (", ..." if len(unlabelled) > 3 else "")
    raise RestError(
        f"{path}: {len(unlabelled)} of {len(rows)} {split} rows have no bias label in column "
        f"{config.csv_bias_column.strip()!r} (lines {lines}); fill them in, pass "
        "--csv-missing-bias drop to leave those rows out, or --csv-bias-column '' to read no "
        "bias labels"
    )


def read(path: Path, config: DataConfig) -> BiasedSplits:
    table = csv_path(path)
    rows = _rows(table, config)
    total = {split: len(rows[split]) for split in SPLITS}
    rows = {split: _partial_bias(table, split, rows[split], config) for split in SPLITS}
    for split in ("train", "test"):
        if not rows[split]:
            value = config.split_values()[SPLITS.index(split)]
            raise RestError(f"{table}: the {split} split is empty (no row with split {value!r})")
    parts: dict[str, SplitArrays | None] = {}
    for split in SPLITS:
        if not rows[split]:
            parts[split] = None
            continue
        images = read_images([r[0] for r in rows[split]], config.image_size, f"reading {split}")
        labels = np.array([(r[1], r[2]) for r in rows[split]], dtype=np.int64)
        parts[split] = SplitArrays(images, labels[:, 0].copy(), labels[:, 1].copy())

    def origin(split: str, index: int) -> str:
        return f"{table} line {rows[split][index][3]}"

    num_classes = checked_class_count(parts, origin, config.num_classes)
    name = table.resolve().parent.name if table.name == METADATA else table.stem
    info: dict[str, object] = {
        "name": name,
        "reader": "csv",
        "path": str(table.resolve()),
        "valid": "none" if parts["valid"] is None else f"rows of split {config.split_values()[1]}",
        "augment": "crop_flip",
        "model": "resnet18",
    }
    dropped = sum(total.values()) - sum(len(r) for r in rows.values())
    if dropped:
        info["dropped_rows"] = f"{dropped} without a bias label (--csv-missing-bias drop)"
    train, test = parts["train"], parts["test"]
    assert train is not None and test is not None
    splits = assemble(name, train, parts["valid"], test, info, num_classes=num_classes)
    share = float(splits.train.conflicting.float().mean())
    splits.info["conflict_pct"] = round(100 * share, 3)
    return splits


READER = Reader("csv", EXPECTS, detect, read)
