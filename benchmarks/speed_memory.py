"""Peak memory: one training epoch per variant, and one epoch over datasets of growing
size memory-mapped from the decoded cache; each in a fresh spawned process."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from rest.data import DataConfig, load_dataset
from rest.loader import BatchLoader
from speed_report import markdown_table
from speed_training import SEED, VARIANTS, Variant, Workload, build_trainer, updates_done


def peak_rss_mb() -> float:
    """This process image's peak resident set (Linux ``VmHWM``).

    Not ``ru_maxrss``: Linux carries that over ``execve``, so a spawned child would
    report at least the peak its parent had when it forked.
    """
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def memory_probe(
    data_file: str, model: str, batch_size: int, variant: Variant, device_type: str
) -> dict:
    """Runs in a fresh process: peak memory of setting up and training one epoch."""
    device = torch.device(device_type)
    workload = Workload(model, torch.load(data_file, weights_only=False), batch_size)
    trainer = build_trainer(workload, variant, device, update_frequency=1)
    setup = peak_rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer.train_epoch("memory")
    result = {"setup_rss_mb": setup, "peak_rss_mb": peak_rss_mb(), "updates": updates_done(trainer)}
    if device.type == "cuda":
        result["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return result


def measure_memory(workload: Workload, device: torch.device, scratch: Path) -> list[dict]:
    data_file = scratch / f"{workload.model}.pt"
    torch.save(workload.splits, data_file)
    rows = []
    for variant in VARIANTS:
        # A fresh spawned process per variant: nothing inherited, peak counted from zero.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            args = (str(data_file), workload.model, workload.batch_size, variant, device.type)
            result = pool.submit(memory_probe, *args).result()
        rows.append({"model": workload.model, "variant": variant.label, **result})
        print(f"  {workload.model} {variant.label}: {result}", file=sys.stderr)
    return rows


def memory_section(rows: list[dict], device: torch.device) -> list[str]:
    erm = {r["model"]: r for r in rows if r["variant"] == "ERM"}
    cuda = device.type == "cuda"
    header = ["model", "variant", "peak RSS (MB)", "RSS added by training (MB)", "RSS ratio"]
    if cuda:
        header += ["CUDA peak allocated (MB)", "CUDA ratio"]
    body = []
    for r in rows:
        base = erm[r["model"]]
        row = [
            r["model"],
            r["variant"],
            f"{r['peak_rss_mb']:.0f}",
            f"{r['peak_rss_mb'] - r['setup_rss_mb']:.0f}",
            f"{r['peak_rss_mb'] / base['peak_rss_mb']:.3f}",
        ]
        if cuda:
            row += [f"{r['cuda_peak_mb']:.0f}", f"{r['cuda_peak_mb'] / base['cuda_peak_mb']:.3f}"]
        body.append(row)
    return ["## Peak memory (one fresh process per variant)", "", markdown_table(header, body), ""]


def resident_mb() -> dict[str, float]:
    """This process's resident set now, split into anonymous and file-backed pages (MB)."""
    status = Path("/proc/self/status").read_text()
    return {
        key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024
        for key in ("RssAnon", "RssFile")
    }


def write_lff(root: Path, images: int, size: int) -> None:
    """An LfF-layout dataset of random ``size`` x ``size`` RGB images (train and valid)."""
    generator = np.random.default_rng(SEED)
    for split, count in (("train", images), ("valid", 1000)):
        (root / split).mkdir(parents=True)
        pixels = generator.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
        np.save(root / split / "images.npy", pixels)
        labels = generator.integers(0, 10, (count, 2))
        np.save(root / split / "attrs.npy", labels)


def mapped_epoch_probe(dataset: str, cache_dir: str) -> dict:
    """Runs in a fresh process: load the dataset, iterate one training epoch, sampling
    the resident set at every batch."""
    splits = load_dataset(DataConfig(dataset=dataset, cache_dir=cache_dir))
    loader = BatchLoader(
        splits.train, 256, torch.device("cpu"), torch.Generator().manual_seed(SEED)
    )
    peak_anon = resident_mb()["RssAnon"]
    for _ in loader:
        peak_anon = max(peak_anon, resident_mb()["RssAnon"])
    return {"peak_anon_mb": peak_anon, "peak_rss_mb": peak_rss_mb(), **resident_mb()}


def mapped_memory(scratch: Path, sizes: tuple[int, ...], image_size: int) -> list[dict]:
    """Peak memory of an epoch over LfF datasets of each size: memory-mapped cache vs
    decoded into memory (``--cache-dir none``); the cache is built before the probe."""
    rows = []
    spawn = multiprocessing.get_context("spawn")
    for images in sizes:
        root = scratch / f"lff-{images}"
        write_lff(root, images, image_size)
        cache = scratch / f"cache-{images}"
        load_dataset(DataConfig(dataset=str(root), cache_dir=str(cache)))  # build it
        pixels_mb = images * 3 * image_size**2 / 2**20
        for mode, cache_dir in (("memory-mapped cache", str(cache)), ("decoded in memory", "none")):
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                result = pool.submit(mapped_epoch_probe, str(root), cache_dir).result()
            rows.append({"images": images, "pixels_mb": pixels_mb, "mode": mode, **result})
            print(f"  {images} images, {mode}: {result}", file=sys.stderr)
        shutil.rmtree(root)
        shutil.rmtree(cache)
    return rows


def mapped_memory_section(rows: list[dict], image_size: int) -> list[str]:
    table = markdown_table(
        ["train images", "pixels (MB)", "data", "peak anonymous RSS (MB)", "peak RSS (MB)"],
        [
            [
                f"{r['images']:,}",
                f"{r['pixels_mb']:.0f}",
                r["mode"],
                f"{r['peak_anon_mb']:.0f}",
                f"{r['peak_rss_mb']:.0f}",
            ]
            for r in rows
        ],
    )
    return [
        f"## Resident memory vs dataset size (LfF layout, 3x{image_size}x{image_size}, one epoch)",
        "",
        "A fresh process loads the dataset and iterates one training epoch (batch 256, "
        "every image touched). Anonymous RSS is the memory the process owns (sampled at "
        "every batch); peak RSS (VmHWM) also counts file-backed pages of the memory map, "
        "which the kernel can drop under memory pressure.",
        "",
        table,
        "",
    ]
