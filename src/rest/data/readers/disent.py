"""The DisEnt release layout (used by the REST code), in all three of its variants.

::

    ROOT/<pct>pct/align/<cls>/*_<y>_<b>.png      train, bias-aligned
    ROOT/<pct>pct/conflict/<cls>/*_<y>_<b>.png   train, bias-conflicting
    ROOT/<pct>pct/valid/[<cls>/]*.png            valid (CMNIST flat, CIFAR-10C in class folders)
    ROOT/valid/*.png                             valid at the root instead (BFFHQ)
    ROOT/test/[<cls>/]*.png                      test, shared by all ratios

``<pct>`` is 0.5, 1, 2, 5 (any number works). Labels always come from the file
name. A ``rest-manifest.json`` written by ``rest data make`` adds the generator,
seed and recommended training defaults to ``info``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from rest.data.arrays import assemble
from rest.data.dataset import BiasedSplits, majority_bias
from rest.data.filenames import parse_labels
from rest.data.labels import checked_class_count
from rest.data.manifest import read_manifest
from rest.data.readers.base import Reader, image_files, read_labelled_files, recommended
from rest.errors import RestError

if TYPE_CHECKING:
    from rest.data.config import DataConfig

EXPECTS = "<pct>pct/align/<cls>/*_<y>_<b>.png, <pct>pct/conflict/..., test/"

_PCT_DIR = re.compile(r"^(\d+(?:\.\d+)?)pct$")

# Manifest entries that describe how the data was generated, copied into ``info``.
_GENERATION_KEYS = ("generator", "source", "severity", "heldout", "data_seed")


def pct_dir_name(conflict_pct: float) -> str:
    """``0.5pct``, ``1pct``, ``2pct``, ``5pct``: the folder of one conflict ratio."""
    return f"{conflict_pct:g}pct"


def conflict_ratios(root: Path) -> dict[float, Path]:
    """The conflict ratios (in percent) present under ``root``, with their folders."""
    if not root.is_dir():
        return {}
    found = {}
    for child in root.iterdir():
        match = _PCT_DIR.match(child.name)
        if match and ((child / "align").is_dir() or (child / "conflict").is_dir()):
            found[float(match.group(1))] = child
    return dict(sorted(found.items()))


def detect(root: Path) -> bool:
    return bool(conflict_ratios(root))


def _ratio_dir(root: Path, conflict_pct: float) -> Path:
    ratios = conflict_ratios(root)
    if not ratios:
        raise RestError(f"{root}: not a DisEnt directory (expected {EXPECTS})")
    for pct, path in ratios.items():
        if abs(pct - conflict_pct) < 1e-9:
            return path
    present = ", ".join(f"{p:g}" for p in ratios)
    raise RestError(
        f"{root}: no {pct_dir_name(conflict_pct)}/ folder for conflict ratio {conflict_pct:g}%; "
        f"present: {present}"
    )


def read(root: Path, config: DataConfig) -> BiasedSplits:
    ratio_dir = _ratio_dir(root, config.conflict_pct)
    align = image_files(ratio_dir / "align") if (ratio_dir / "align").is_dir() else []
    conflict = image_files(ratio_dir / "conflict") if (ratio_dir / "conflict").is_dir() else []
    train_files = sorted(align + conflict, key=lambda p: (p.name, str(p)))
    valid_dir = next((d for d in (ratio_dir / "valid", root / "valid") if d.is_dir()), None)
    test_dir = root / "test"
    if not test_dir.is_dir():
        raise RestError(f"{root}: no test/ folder (expected {EXPECTS})")
    size = config.image_size
    files = {
        "train": train_files,
        "valid": [] if valid_dir is None else image_files(valid_dir),
        "test": image_files(test_dir),
    }
    train = read_labelled_files(files["train"], ratio_dir, size, "reading train")
    valid = (
        None
        if valid_dir is None
        else read_labelled_files(files["valid"], valid_dir, size, "reading valid")
    )
    test = read_labelled_files(files["test"], test_dir, size, "reading test")
    num_classes = checked_class_count(
        {"train": train, "valid": valid, "test": test},
        lambda split, index: f"the file {files[split][index]}",
        config.num_classes,
    )
    manifest = read_manifest(root) or {}
    name = root.resolve().name
    info: dict[str, object] = {
        "name": name,
        "reader": "disent",
        "path": str(root.resolve()),
        "conflict_pct": config.conflict_pct,
        **{k: manifest[k] for k in _GENERATION_KEYS if k in manifest},
        **recommended(train.images.shape),
    }
    if isinstance(manifest.get("recommended"), dict):
        info.update(manifest["recommended"])
    info["valid"] = "none" if valid_dir is None else str(valid_dir.resolve())
    return assemble(
        name,
        train,
        valid,
        test,
        info,
        num_classes=num_classes,
        aligned_bias=_aligned_bias(align, num_classes),
    )


def _aligned_bias(align: list[Path], num_classes: int) -> torch.Tensor:
    """The bias of each class's ``align/`` files (their majority), as DisEnt defines it."""
    labels = torch.tensor([parse_labels(p) for p in align], dtype=torch.int64).reshape(-1, 2)
    return majority_bias(labels[:, 0], labels[:, 1], num_classes)


READER = Reader("disent", EXPECTS, detect, read)
