"""Helpers for the data tests: write tiny files in the supported formats, run the CLI."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rest.cli import main


def digit_like(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """``(N, size, size)`` uint8 "digits": a bright bar whose position encodes the label."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, size=(len(labels), size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = int(label) * (size - 2) // 10
        images[i, row : row + 2, 1:-1] = 200 + rng.integers(0, 55)
    return images


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array in IDX format (gzipped when the name ends in .gz)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def write_png(path: Path, y: int, b: int, size: int = 8, rgb: bool = True) -> np.ndarray:
    """Write a small PNG whose pixels encode (y, b); returns its (3, H, W) RGB array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    pixels[..., 0] = 20 * y
    pixels[..., 1] = 20 * b
    pixels[0, 0] = [255, 255, 255]
    image = Image.fromarray(pixels if rgb else pixels[..., 0])
    image.save(path)
    return np.asarray(image.convert("RGB")).transpose(2, 0, 1)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``rest`` in-process; returns (exit code, stdout, stderr)."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """A user error: non-zero exit, exactly one ``rest: error:`` line, no traceback."""
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rest: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
