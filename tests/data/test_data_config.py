"""DataConfig validation and the loading entry point's name/path resolution."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rest.data import DataConfig, load_dataset
from rest.errors import RestError


def test_every_field_documents_itself() -> None:
    for f in dataclasses.fields(DataConfig):
        assert f.metadata.get("help"), f.name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"conflict_pct": -1.0}, r"conflict_pct.*\[0, 100\]"),
        ({"conflict_pct": float("nan")}, r"conflict_pct.*\[0, 100\]"),
        ({"layout": "zip"}, "layout.*one of auto, disent"),
        ({"severity": 6}, "severity.*one of 1, 2, 3, 4, 5"),
        ({"data_seed": -2}, "data_seed.*got -2"),
        ({"image_size": 0}, "image_size.*got 0"),
        ({"csv_split_values": "train,test"}, "three different"),
        ({"csv_split_values": "a,a,b"}, "three different"),
        ({"csv_label_column": " "}, "must name a column"),
        ({"dataset": ""}, "empty"),
    ],
)
def test_invalid_values_are_one_line_errors(changes: dict, message: str) -> None:
    with pytest.raises(RestError, match=message):
        DataConfig(**changes)


def test_unknown_name_versus_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RestError, match=r"unknown dataset 'cifar'.*cfmnist, cmnist, corrupted"):
        load_dataset(DataConfig(dataset="cifar"))
    with pytest.raises(RestError, match=r"unknown dataset 'cmnistt'"):  # not a setting's error
        load_dataset(DataConfig(dataset="cmnistt", severity=2))
    with pytest.raises(RestError, match="no such file or directory"):
        load_dataset(DataConfig(dataset=str(tmp_path / "data")))


def test_default_config_loads_the_builtin_colored_mnist() -> None:
    splits = load_dataset(DataConfig())
    assert splits.name == "cmnist"
    assert splits.info["source"] == "mnist5k" and splits.info["conflict_pct"] == 1.0
    expected = {"name", "generator", "source", "conflict_pct", "severity", "data_seed"}
    assert expected | {"augment", "model", "input_shape"} <= set(splits.info)
