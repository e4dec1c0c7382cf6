"""Helpers of the study tests (issue 12): the study script and its sibling modules,
loaded once, and tiny Fashion-MNIST-format data the end-to-end tests train on."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SLOT = ROOT / "benchmarks" / "study_slot.sh"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load_script() -> ModuleType:
    if str(ROOT / "benchmarks") not in sys.path:  # the script imports its sibling modules
        sys.path.append(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("study_script", ROOT / "benchmarks/study.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


study = _load_script()
protocol = importlib.import_module("study_protocol")
cost = importlib.import_module("study_cost")


def squash(text: str) -> str:
    """The report with the padding of its table cells collapsed to single spaces."""
    return re.sub(r" {2,}", " ", text)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def tiny_fashion(directory: Path, per_class: int = 40, size: int = 12) -> Path:
    """Fashion-MNIST-format IDX files: a bar whose row encodes the class, on noise."""
    directory.mkdir()
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("t10k", per_class // 4)):
        labels = np.tile(np.arange(10), count).astype(np.uint8)
        images = rng.integers(0, 40, size=(len(labels), size, size), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, label, 1:-1] = 220
        _write_idx(directory / f"{split}-images-idx3-ubyte", images)
        _write_idx(directory / f"{split}-labels-idx1-ubyte", labels)
    return directory
