"""Decode and encode image files in a thread pool, into and out of one uint8 array.

Datasets are decoded once into memory (see :mod:`rest.data.dataset`), so the cost
that matters is the one-off read of tens of thousands of small files. PIL releases
the GIL while inflating and deflating, so a few threads give a real speed-up
without the start-up and pickling cost of processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from rest.data.access import permission_denied
from rest.data.progress import progress
from rest.errors import RestError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _run(task: Callable[[int], None], indices: range, total: int, desc: str) -> None:
    """Run ``task`` on every index in a thread pool; the first error cancels the rest."""
    pool = ThreadPoolExecutor(_workers())
    try:
        for _ in progress(pool.map(task, indices), total, desc):
            pass
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _load_rgb(path: Path, size: int | None) -> np.ndarray:
    """One image as RGB ``(3, H, W)`` uint8, resized to ``size x size`` when given."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if size is not None and image.size != (size, size):
                image = image.resize((size, size), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    except FileNotFoundError:
        raise RestError(f"image {path} does not exist") from None
    except PermissionError as error:
        raise permission_denied(error) from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise RestError(f"cannot read image {path}: {error}") from None


def read_images(
    paths: Sequence[Path], size: int | None = None, desc: str = "reading"
) -> np.ndarray:
    """Decode ``paths`` into one ``(N, 3, H, W)`` uint8 array (RGB, in the given order).

    All images must share one size unless ``size`` is given, in which case each is
    resized to ``size x size``. Raises :class:`RestError` naming the file that
    cannot be decoded or whose size differs.
    """
    if not paths:
        raise ValueError("read_images needs at least one path")
    first = _load_rgb(paths[0], size)
    out = np.empty((len(paths), *first.shape), dtype=np.uint8)
    out[0] = first

    def fill(i: int) -> None:
        image = _load_rgb(paths[i], size)
        if image.shape != first.shape:
            raise RestError(
                f"{paths[i]} is {image.shape[2]}x{image.shape[1]} but {paths[0]} is "
                f"{first.shape[2]}x{first.shape[1]}; pass --image-size N to resize all "
                "images to N x N"
            )
        out[i] = image

    _run(fill, range(1, len(paths)), len(paths), desc)
    return out


def write_pngs(images: np.ndarray, paths: Sequence[Path], desc: str = "writing") -> None:
    """Write ``(N, C, H, W)`` uint8 images (C = 1 or 3) as PNG files; parents must exist.

    PNG is lossless and PIL writes no timestamp, so the same array always gives
    the same bytes and reads back unchanged.
    """

    def save(i: int) -> None:
        array = images[i].transpose(1, 2, 0)
        image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        image.save(paths[i], format="PNG")

    _run(save, range(len(paths)), len(paths), desc)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, C, H, W)`` uint8 images to ``size x size`` (bilinear, per channel)."""
    if images.shape[2:] == (size, size):
        return images
    out = np.empty((*images.shape[:2], size, size), dtype=np.uint8)
    for i in range(images.shape[0]):
        for c in range(images.shape[1]):
            channel = Image.fromarray(images[i, c]).resize((size, size), Image.BILINEAR)
            out[i, c] = np.asarray(channel)
    return out
