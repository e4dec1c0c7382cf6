"""A metadata CSV in the group-DRO / Waterbirds / CelebA style.

One row per image: its path (relative to the CSV file, or absolute), the
integer target label, the integer bias label and the split. Defaults follow
Waterbirds' ``metadata.csv`` (``img_filename``, ``y``, ``place``, ``split`` with
0/1/2 = train/valid/test); every column name and the split values are
configurable. An empty bias column name (or an empty cell) means no bias label.
The aligned bias of class ``y`` is the bias most train images of ``y`` carry.
A path may be the CSV file or a directory holding ``metadata.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rest.data.arrays import SplitArrays, assemble
from rest.data.dataset import UNKNOWN_BIAS, BiasedSplits
from rest.data.images import read_images
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


def _rows(path: Path, config: DataConfig) -> dict[str, list[tuple[Path, int, int]]]:
    """The CSV's rows by split name: (image path, y, b)."""
    columns = [config.csv_image_column, config.csv_label_column, config.csv_split_column]
    bias_column = config.csv_bias_column.strip()
    split_of = dict(zip(config.split_values(), SPLITS, strict=True))
    rows: dict[str, list[tuple[Path, int, int]]] = {split: [] for split in SPLITS}
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
                        f"{path} line {line}: split value {row[config.csv_split_column]!r} is "
                        f"not one of {config.csv_split_values} (train,valid,test)"
                    )
                image = Path(row[config.csv_image_column] or "")
                label = _integer(row[config.csv_label_column] or "", "label", line, path)
                bias_cell = (row[bias_column] or "").strip() if bias_column else ""
                bias = _integer(bias_cell, bias_column, line, path) if bias_cell else UNKNOWN_BIAS
                rows[split].append(
                    (image if image.is_absolute() else path.parent / image, label, bias)
                )
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RestError(f"cannot read {path}: {error}") from None
    return rows


def read(path: Path, config: DataConfig) -> BiasedSplits:
    table = csv_path(path)
    rows = _rows(table, config)
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
    name = table.resolve().parent.name if table.name == METADATA else table.stem
    info: dict[str, object] = {
        "name": name,
        "reader": "csv",
        "path": str(table.resolve()),
        "valid": "none" if parts["valid"] is None else f"rows of split {config.split_values()[1]}",
        "augment": "crop_flip",
        "model": "resnet18",
    }
    train, test = parts["train"], parts["test"]
    assert train is not None and test is not None
    splits = assemble(name, train, parts["valid"], test, info)
    share = float(splits.train.conflicting.float().mean())
    splits.info["conflict_pct"] = round(100 * share, 3)
    return splits


READER = Reader("csv", EXPECTS, detect, read)
