"""Decode a file dataset once: a uint8 cache on disk, memory-mapped by every later run.

Reading a DisEnt PNG folder or a metadata CSV decodes every image; a sweep of 100
runs over it would decode it 100 times. The first run instead writes the decoded
splits as ``.npy`` files into ``--cache-dir`` and every run (this one included)
memory-maps them, so a dataset larger than RAM trains with a bounded resident set:
the pages a batch touches are file-backed and the kernel can drop them again.

An entry is keyed by the dataset path, the reader and every data option (those that
change pixels, like ``image_size``, and those that change labels or splits, like
``conflict_pct`` or the CSV columns). It records a fingerprint of the source files
-- each file's relative name, size and modification time -- and a run whose sources
no longer match it (a file added, removed or rewritten) rebuilds the entry. The
fingerprint costs one ``stat`` per file; a rewrite that keeps both a file's size and
its nanosecond modification time is the one change it cannot see.

Concurrent runs are safe: building and loading happen under an exclusive lock file
per entry, an entry is written to a temporary folder and renamed into place, so two
runs starting together decode once and a killed build never leaves a half entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from rest.data.config import DataConfig
from rest.data.dataset import BiasedDataset, BiasedSplits
from rest.data.readers import find_reader
from rest.data.readers.metadata_csv import _rows, csv_path
from rest.errors import RestError

CACHE_FORMAT = "rest-decoded-1"
NO_CACHE = "none"
DEFAULT_CACHE = "default"
META = "meta.json"
SPLITS = ("train", "valid", "test")


def cache_root(setting: str) -> Path | None:
    """The cache folder a ``cache_dir`` setting names (``None``: caching is off)."""
    if setting == NO_CACHE:
        return None
    if setting != DEFAULT_CACHE:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rest"


def source_files(path: Path, reader: str, config: DataConfig) -> list[Path]:
    """The files a reader decodes ``path`` from: the whole folder, or a CSV and its images."""
    if reader == "csv":
        table = csv_path(path)
        return [table] + [image for rows in _rows(table, config).values() for image, *_ in rows]
    return sorted(_files_under(path))


def _files_under(folder: Path) -> Iterator[Path]:
    """Every file below ``folder``, told apart from folders by the directory entry's type
    (no ``stat``: the fingerprint stats each file once, and a folder holds thousands)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):  # as rglob: no loop through a link
                yield from _files_under(Path(entry.path))
            elif entry.is_file():
                yield Path(entry.path)


def fingerprint(files: list[Path], root: Path) -> str:
    """Hash of every file's name (relative to ``root`` where it can be), size and mtime.

    A file that cannot be read is hashed as such; decoding it then fails with the
    reader's own error."""
    digest = hashlib.sha256()
    for file in files:
        name = file.relative_to(root) if file.is_relative_to(root) else file
        try:
            stat = file.stat()
        except OSError:  # the reader names what is wrong with it when it decodes
            digest.update(f"{name}\0unreadable\n".encode())
            continue
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def entry_key(path: Path, reader: str, config: DataConfig) -> str:
    # The resolved path stands for ``dataset``: ./data and /abs/data share an entry.
    options = {
        k: v for k, v in dataclasses.asdict(config).items() if k not in ("cache_dir", "dataset")
    }
    options.update(path=str(path.resolve()), reader=reader, format=CACHE_FORMAT)
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:32]


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_cached(path: Path, config: DataConfig, build: bool = True) -> tuple[BiasedSplits, bool]:
    """The dataset at ``path`` from its cache entry, decoding it first if needed.

    Returns the memory-mapped splits and whether this call decoded the sources.
    With caching off (``cache_dir`` = ``none``) the reader decodes into memory; so it
    does with ``build`` off when no valid entry exists: a command that only looks at
    a dataset (``rest data info``) uses an entry but never writes one.
    """
    reader = find_reader(path, config.layout)
    root = cache_root(config.cache_dir)
    if root is None:
        return reader.read(path, config), True
    base = path if path.is_dir() else path.parent
    expected = fingerprint(source_files(path, reader.name, config), base)
    key = entry_key(path, reader.name, config)
    entry = root / key
    if not build:
        cached = _load(entry, expected) if entry.is_dir() else None
        return (cached, False) if cached is not None else (reader.read(path, config), True)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RestError(
            f"cannot create the dataset cache {root}: {error.strerror}; "
            "set --cache-dir to a writable folder, or --cache-dir none"
        ) from None
    with _locked(root / f"{key}.lock"):
        cached = _load(entry, expected)
        if cached is not None:
            return cached, False
        _write(entry, reader.read(path, config), expected)
        loaded = _load(entry, expected)
    assert loaded is not None, "an entry just written must load"
    return loaded, True


def _write(entry: Path, splits: BiasedSplits, source_fingerprint: str) -> None:
    """Write ``splits`` next to ``entry`` and rename it into place (replacing a stale one)."""
    for leftover in entry.parent.glob(f".{entry.name}.*"):
        shutil.rmtree(leftover, ignore_errors=True)  # a killed build's; we hold the lock
    staging = entry.parent / f".{entry.name}.{os.getpid()}.building"
    staging.mkdir()
    present = splits.splits()
    for name, split in present.items():
        np.save(staging / f"{name}-images.npy", split.images.numpy())
        np.save(staging / f"{name}-targets.npy", split.targets.numpy())
        np.save(staging / f"{name}-biases.npy", split.biases.numpy())
    assert splits.train.aligned_bias is not None
    meta = {
        "format": CACHE_FORMAT,
        "fingerprint": source_fingerprint,
        "name": splits.name,
        "info": splits.info,
        "splits": list(present),
        "num_classes": splits.train.num_classes,
        "num_biases": splits.train.num_biases,
        "aligned_bias": splits.train.aligned_bias.tolist(),
    }
    (staging / META).write_text(json.dumps(meta))
    if entry.exists():
        stale = entry.parent / f".{entry.name}.{os.getpid()}.stale"
        entry.rename(stale)  # runs still mapping its files keep them until they exit
        staging.rename(entry)
        shutil.rmtree(stale, ignore_errors=True)
    else:
        staging.rename(entry)


def _load(entry: Path, source_fingerprint: str) -> BiasedSplits | None:
    """The entry's splits, memory-mapped; ``None`` when absent, stale or unreadable."""
    try:
        meta = json.loads((entry / META).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("format") != CACHE_FORMAT or meta.get("fingerprint") != source_fingerprint:
        return None

    def array(name: str, mode: str | None) -> torch.Tensor:
        # copy-on-write: a writable view without reading the file into memory
        return torch.from_numpy(np.load(entry / f"{name}.npy", mmap_mode=mode))

    aligned_bias = torch.tensor(meta["aligned_bias"], dtype=torch.int64)
    try:
        datasets: dict[str, BiasedDataset] = {
            name: BiasedDataset(
                images=array(f"{name}-images", "c"),
                targets=array(f"{name}-targets", None),
                biases=array(f"{name}-biases", None),
                num_classes=meta["num_classes"],
                num_biases=meta["num_biases"],
                name=name,
                aligned_bias=aligned_bias,
            )
            for name in meta["splits"]
        }
    except (OSError, ValueError):
        return None
    info = dict(meta["info"])
    info["input_shape"] = tuple(info["input_shape"])
    return BiasedSplits(
        train=datasets["train"],
        valid=datasets.get("valid"),
        test=datasets["test"],
        name=meta["name"],
        info=info,
    )
