"""What data to train on: a registered benchmark name or a path, and how to read it.

Every field carries a ``help`` string (and, where the values are few, ``choices``)
in its metadata; the command line builds its flags from them, so a new field only
needs to be added here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from rest.errors import RestError
from rest.validation import SEED, at_least, between, check_fields

LAYOUTS = ("auto", "disent", "lff", "csv")
SEVERITIES = (1, 2, 3, 4, 5)
# How a generated benchmark renders its valid and test images (see generators/build.py).
HELDOUT = ("auto", "counterfactual", "published")
# What to do with metadata-CSV rows whose bias cell is empty while others have one.
MISSING_BIAS = ("error", "drop")
# Fields only a generated benchmark reads, and fields only a dataset path reads: a
# changed value of the other kind would silently do nothing, so it is refused.
GENERATOR_FIELDS = ("source", "severity", "heldout", "data_seed")
PATH_FIELDS = (
    "layout",
    "num_classes",
    "csv_image_column",
    "csv_label_column",
    "csv_bias_column",
    "csv_missing_bias",
    "csv_split_column",
    "csv_split_values",
)


@dataclass
class DataConfig:
    SECTION: ClassVar[str] = "data"

    dataset: str = field(
        default="cmnist",
        metadata={
            "help": "a registered dataset (cmnist, cfmnist, corrupted) or a path to a dataset "
            "directory or metadata CSV file"
        },
    )
    conflict_pct: float = field(
        default=1.0,
        metadata={
            "help": "percentage of bias-conflicting training samples (0.5, 1, 2 and 5 are the "
            "standard ones); picks the <pct>pct/ folder of a DisEnt directory",
            "range": between(0, 100),
        },
    )
    layout: str = field(
        default="auto",
        metadata={
            "help": "file layout of a dataset path: auto, disent, lff or csv",
            "choices": LAYOUTS,
        },
    )
    source: str | None = field(
        default=None,
        metadata={
            "help": "images a generated dataset is built from: mnist5k, fashion-mnist, or a "
            "directory of MNIST-format IDX files or CIFAR-10 python batches "
            "(default: the dataset's own)"
        },
    )
    severity: int = field(
        default=4,
        metadata={
            "help": "how salient the bias of a generated dataset is, 1..5: colour-noise std "
            "0.05 .. 0.002, or corruption strength",
            "choices": SEVERITIES,
        },
    )
    heldout: str = field(
        default="auto",
        metadata={
            "help": "how a generated benchmark renders its valid and test images: "
            "counterfactual (every image under every bias value: 10x the images, each (y, b) "
            "group holds every image of class y), published (one bias value per image, "
            "uniform: the LfF/DisEnt protocol) or auto (the benchmark's own: counterfactual "
            "for cmnist, published for cfmnist and corrupted)",
            "choices": HELDOUT,
        },
    )
    data_seed: int = field(
        default=0,
        metadata={
            "help": "seed of the dataset generator, independent of the training seed",
            "range": SEED,
        },
    )
    image_size: int | None = field(
        default=None,
        metadata={
            "help": "resize every image to this size x size on load (default: keep the size)",
            "range": between(1, 4096),
        },
    )
    cache_dir: str = field(
        default="default",
        metadata={
            "help": "folder of decoded file datasets (DisEnt, LfF, CSV), decoded once and "
            "memory-mapped by every later run; default: $XDG_CACHE_HOME/rest or "
            "~/.cache/rest; none: decode into memory every run"
        },
    )
    num_classes: int | None = field(
        default=None,
        metadata={
            "help": "number of target classes of a dataset path, when labels 0..K-1 are not "
            "all present (default: largest label + 1, every label in between must occur)",
            "range": at_least(2),
        },
    )
    csv_image_column: str = field(
        default="img_filename",
        metadata={"help": "metadata CSV column with the image path (relative to the CSV file)"},
    )
    csv_label_column: str = field(
        default="y", metadata={"help": "metadata CSV column with the integer target label"}
    )
    csv_bias_column: str = field(
        default="place",
        metadata={
            "help": "metadata CSV column with the integer bias label; empty for data without "
            "bias labels"
        },
    )
    csv_missing_bias: str = field(
        default="error",
        metadata={
            "help": "metadata CSV rows with an empty bias cell among rows that have one: error "
            "(say how many and where) or drop (leave those rows out)",
            "choices": MISSING_BIAS,
        },
    )
    csv_split_column: str = field(
        default="split", metadata={"help": "metadata CSV column naming each row's split"}
    )
    csv_split_values: str = field(
        default="0,1,2",
        metadata={"help": "the values of the split column meaning train,valid,test"},
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.cache_dir.strip():
            raise RestError("cache_dir is empty; name a folder, default, or none")
        if not self.dataset.strip():
            raise RestError("the dataset name or path is empty")
        values = self.split_values()
        if len(values) != 3 or len(set(values)) != 3 or not all(values):
            raise RestError(
                "csv_split_values must be three different comma-separated values (train,valid,"
                f"test), got {self.csv_split_values!r}"
            )
        for name in ("csv_image_column", "csv_label_column", "csv_split_column"):
            if not getattr(self, name).strip():
                raise RestError(f"{name} must name a column")

    def check_fields_read(self, benchmarks: Sequence[str]) -> None:
        """Refuse a field changed from its default that this kind of dataset ignores:
        the generator settings for a dataset path, the file settings for a generated
        benchmark (one of the registered ``benchmarks``)."""
        generated = self.dataset in benchmarks
        default = DataConfig()
        ignored = PATH_FIELDS if generated else GENERATOR_FIELDS
        for name in ignored:
            if getattr(self, name) == getattr(default, name):
                continue
            flag = "--" + name.replace("_", "-")
            if generated:
                raise RestError(
                    f"{flag} is for a dataset path; {self.dataset} is a generated benchmark "
                    "(drop the flag, or pass the path of a dataset directory or CSV file)"
                )
            raise RestError(
                f"{flag} is for a generated benchmark ({', '.join(benchmarks)}); "
                f"{self.dataset} is a dataset path, read as it is on disk (drop the flag)"
            )

    def split_values(self) -> list[str]:
        """The split column's values for train, valid and test."""
        return [v.strip() for v in self.csv_split_values.split(",")]
