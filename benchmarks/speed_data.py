"""Data loading: decoding a DisEnt PNG dataset, and epochs iterated from memory."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from rest.data import DataConfig, load_dataset, make_dataset
from rest.loader import BatchLoader
from rest.reweight.weights import default_lambda_up, upweight
from sparse_step import synchronize
from speed_report import markdown_table
from speed_training import SEED

LOADER_BATCH = 256


LOADER_EPOCHS = 10  # epochs from memory take milliseconds: enough of them for a stable median


def iterate_epoch(loader: BatchLoader) -> float:
    start = time.perf_counter()
    for _ in loader:
        pass
    synchronize(loader.device)
    return time.perf_counter() - start


def cache_loads(root: Path, cache: Path, repeats: int = 3) -> dict:
    """First run (decode and write the cache) vs a later run (memory-map it), each
    repetition into a fresh cache folder."""
    first, later = [], []
    for rep in range(repeats):
        config = DataConfig(dataset=str(root), conflict_pct=1.0, cache_dir=str(cache / str(rep)))
        for times in (first, later):
            start = time.perf_counter()
            load_dataset(config)
            times.append(time.perf_counter() - start)
    return {
        "first_run_seconds": statistics.median(first),
        "cached_run_seconds": statistics.median(later),
        "first_runs": first,
        "cached_runs": later,
    }


def data_loading(device: torch.device) -> dict:
    """Decode a DisEnt PNG dataset once, then iterate epochs from memory."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cmnist"
        make_dataset("cmnist", root, [1.0])
        files = sum(1 for _ in root.rglob("*.png"))
        start = time.perf_counter()
        splits = load_dataset(DataConfig(dataset=str(root), conflict_pct=1.0, cache_dir="none"))
        decode = time.perf_counter() - start
        cache = cache_loads(root, Path(tmp) / "cache")
    # The PNG files are gone from here on: the epochs below can only read memory.
    train = splits.train
    share = float(train.conflicting.float().mean())
    lambda_up = default_lambda_up(share)
    samplers = {
        "uniform shuffle (ERM)": None,
        f"weighted sampler, lambda_up={lambda_up:g} (REST)": upweight(train.conflicting, lambda_up),
    }
    loaders = {
        name: BatchLoader(train, LOADER_BATCH, device, torch.Generator().manual_seed(SEED), weights)
        for name, weights in samplers.items()
    }
    seconds: dict[str, list[float]] = {name: [] for name in loaders}
    for _ in range(1 + LOADER_EPOCHS):
        for name, loader in loaders.items():
            seconds[name].append(iterate_epoch(loader))
    images = len(train)
    return {
        "files": files,
        "cache": cache,
        "decode_seconds": decode,
        "decode_images_per_second": files / decode,
        "train_images": images,
        "epochs": [
            {
                "sampler": name,
                "first_epoch_seconds": decode + times[0],
                "first_epoch_images_per_second": images / (decode + times[0]),
                "later_epoch_seconds": statistics.median(times[1:]),
                "later_epoch_images_per_second": images / statistics.median(times[1:]),
                "epoch_seconds": times,
            }
            for name, times in seconds.items()
        ],
    }


def loading_section(result: dict) -> list[str]:
    table = markdown_table(
        [
            "sampler",
            "first epoch s (decode + iterate)",
            "first epoch img/s",
            "later epoch s (median)",
            "later epoch img/s",
            "later / first speed",
        ],
        [
            [
                r["sampler"],
                f"{r['first_epoch_seconds']:.2f}",
                f"{r['first_epoch_images_per_second']:,.0f}",
                f"{r['later_epoch_seconds']:.4f}",
                f"{r['later_epoch_images_per_second']:,.0f}",
                f"{r['first_epoch_seconds'] / r['later_epoch_seconds']:.0f}x",
            ]
            for r in result["epochs"]
        ],
    )
    cache = result["cache"]
    return [
        "## Data loading (DisEnt PNG layout, Colored MNIST 1%)",
        "",
        f"Decoded-dataset cache (`--cache-dir`): a first run decodes and writes it in "
        f"{cache['first_run_seconds']:.2f} s, a later run memory-maps it in "
        f"{cache['cached_run_seconds']:.3f} s "
        f"({cache['first_run_seconds'] / cache['cached_run_seconds']:.0f}x faster; medians of "
        f"{len(cache['first_runs'])}, each into a fresh cache; the later run includes the "
        "fingerprint of every source file).",
        "",
        f"PNG decode: {result['files']} files in {result['decode_seconds']:.2f} s = "
        f"{result['decode_images_per_second']:,.0f} images/s (train, valid and test; files "
        "just written, so in the page cache). Epochs: the "
        f"{result['train_images']} training images at batch {LOADER_BATCH}, iterated after "
        "the PNG directory was deleted.",
        "",
        table,
        "",
    ]
