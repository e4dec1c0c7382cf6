"""Epoch time and peak memory of ERM vs REST, data loading, FLOPs and checkpoint sizes.

REST's speed goal: a REST training step costs at most 1.15x an ERM step of the same
model. Masks are stored dense, so sparsity buys FLOPs and checkpoint size, not wall
time; what is measured here is the overhead REST adds (weighted sampling, masking the
gradients and weights, mask updates). Everything goes through the library's own code
paths: the engine's ``Trainer`` with the registered methods, the ``BatchLoader``, the
DisEnt reader, ``inference_flops`` and ``save_compact``.

- Epoch time: one trainer per variant (ERM; REST at density 1 = reweighting only; REST
  at 0.1 and 0.01), all alive at once and trained epoch by epoch in rotating order, so
  drifts in machine load hit every variant alike. A variant's ratio is the median over
  repetitions of its epoch time over ERM's in the same repetition (the range of those
  paired ratios is shown beside it: load from other jobs can slow an epoch several-fold).
  Sparse variants keep the mask-update interval of a 100-epoch run, so a few timed
  epochs contain an update (its amortised cost is in ``sparse_step.py``'s report).
- Peak memory: each variant in a fresh process (the peak RSS never goes down), over
  one epoch with a mask update at every step after the first, so the peak includes an
  update; on CUDA also torch's peak allocation.
- Data loading: a Colored-MNIST dataset written in the DisEnt PNG layout is read once
  (decoded into memory); the files are then deleted and epochs are iterated from memory.
- FLOPs and checkpoint sizes: per density, at each model's real input size.

Usage: python benchmarks/speed.py [--quick] [--device cpu|cuda] [--repeats N] [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import datetime
import json
import multiprocessing
import os
import platform
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rest.build import build_training
from rest.config import TrainConfig
from rest.data import BiasedSplits, DataConfig, load_dataset, make_dataset
from rest.loader import BatchLoader
from rest.models import build_model
from rest.resolve import resolve
from rest.reweight.weights import default_lambda_up, upweight
from rest.sparse import SparseConfig, SparseTraining, inference_flops, save_compact
from rest.trainer import Trainer, resolve_device
from sparse_step import cpu_model, device_name, synchronize

RESULTS = Path(__file__).parent / "results" / "speed.md"
GOAL = 1.15
SEED = 0
RUN_EPOCHS = 100  # the published run length: sets the sparse variants' mask-update interval
FLOP_DENSITIES = (1.0, 0.5, 0.1, 0.05, 0.01)
FLOP_MODELS = (("cnn", (3, 28, 28)), ("resnet18", (3, 32, 32)), ("resnet18", (3, 128, 128)))
CNN_BATCH = 256
LOADER_BATCH = 256
LOADER_EPOCHS = 10  # epochs from memory take milliseconds: enough of them for a stable median
# (cnn images, resnet18 images, resnet18 batch, repeats): full size, and a --quick run
# that fits in minutes on two shared CPU cores.
FULL = (4000, 2048, 256, 5)
QUICK = (1024, 64, 32, 5)


@dataclass(frozen=True)
class Variant:
    """A training method at a density."""

    method: str
    density: float

    @property
    def label(self) -> str:
        if self.method == "erm":
            return "ERM"
        if self.density == 1:
            return "REST d=1 (reweighting only)"
        return f"REST d={self.density:g}"


VARIANTS = (Variant("erm", 1.0), Variant("rest", 1.0), Variant("rest", 0.1), Variant("rest", 0.01))


@dataclass
class Workload:
    """A model and the training images it is timed on."""

    model: str
    splits: BiasedSplits
    batch_size: int

    @property
    def description(self) -> str:
        c, h, w = self.splits.train.image_shape
        return f"{len(self.splits.train)} images {c}x{h}x{w}, batch {self.batch_size}"


def training_subset(splits: BiasedSplits, count: int, pad: int, augment: str) -> BiasedSplits:
    """A seeded random ``count`` of the training images, zero-padded by ``pad`` pixels."""
    train = splits.train
    if not 0 < count <= len(train):
        raise SystemExit(f"asked for {count} training images; the data has {len(train)}")
    chosen = torch.randperm(len(train), generator=torch.Generator().manual_seed(SEED))[:count]
    part = train.subset(chosen)
    if pad:
        part = dataclasses.replace(part, images=F.pad(part.images, (pad, pad, pad, pad)))
    # Only the training split is used; the test slot must hold a split, so it gets the same.
    return BiasedSplits(part, None, part, splits.name, {**splits.info, "augment": augment})


def build_trainer(
    workload: Workload, variant: Variant, device: torch.device, update_frequency: int | None = None
) -> Trainer:
    """The trainer ``rest.engine.fit`` builds for this variant (same seed for all)."""
    sparse_section: dict[str, object] = {"density": variant.density}
    if variant.density < 1:
        sparse_section["update_frequency"] = update_frequency
    config = TrainConfig.from_dict(
        {
            "method": variant.method,
            "model": {"model": workload.model},
            "optim": {"batch_size": workload.batch_size, "epochs": RUN_EPOCHS},
            "sparse": sparse_section,
            "run": {"device": device.type, "seed": SEED},
        }
    )
    config = resolve(config, workload.splits)
    return build_training(config, workload.splits, device).trainer


def updates_done(trainer: Trainer) -> int:
    return trainer.sparse.updates_done if trainer.sparse is not None else 0


def time_epochs(workload: Workload, device: torch.device, repeats: int) -> list[dict]:
    """Interleaved epochs of every variant; rows with medians and ratios to ERM."""
    trainers = [build_trainer(workload, variant, device) for variant in VARIANTS]
    for trainer in trainers:
        trainer.train_epoch("warm-up")
    before = [updates_done(trainer) for trainer in trainers]
    seconds: list[list[float]] = [[] for _ in trainers]
    n = len(trainers)
    for rep in range(repeats):
        for i in [*range(rep % n, n), *range(rep % n)]:
            seconds[i].append(trainers[i].train_epoch(f"repetition {rep}")["seconds"])
        print(f"  {workload.model} repetition {rep + 1}/{repeats}", file=sys.stderr)
    erm = seconds[0]
    rows = []
    for variant, trainer, times, start in zip(VARIANTS, trainers, seconds, before, strict=True):
        ratios = [t / e for t, e in zip(times, erm, strict=True)]
        rows.append(
            {
                "model": workload.model,
                "workload": workload.description,
                "variant": variant.label,
                "method": variant.method,
                "density": variant.density,
                "steps_per_epoch": len(trainer.loader),
                "update_frequency": trainer.sparse.update_frequency if trainer.sparse else None,
                "updates_in_timed_epochs": updates_done(trainer) - start,
                "epoch_seconds": times,
                "median_seconds": statistics.median(times),
                "paired_ratios": ratios,
                "ratio": statistics.median(ratios),
            }
        )
    return rows


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


def iterate_epoch(loader: BatchLoader) -> float:
    start = time.perf_counter()
    for _ in loader:
        pass
    synchronize(loader.device)
    return time.perf_counter() - start


def data_loading(device: torch.device) -> dict:
    """Decode a DisEnt PNG dataset once, then iterate epochs from memory."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cmnist"
        make_dataset("cmnist", root, [1.0])
        files = sum(1 for _ in root.rglob("*.png"))
        start = time.perf_counter()
        splits = load_dataset(DataConfig(dataset=str(root), conflict_pct=1.0))
        decode = time.perf_counter() - start
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


def flops_and_sizes(scratch: Path) -> list[dict]:
    """Inference FLOPs and compact checkpoint bytes per density (ERK masks at init)."""
    rows = []
    path = scratch / "checkpoint.pt"
    for name, shape in FLOP_MODELS:
        torch.manual_seed(SEED)
        base = build_model(name, 10, shape)
        dense_bytes = 0
        for density in FLOP_DENSITIES:
            model = copy.deepcopy(base)
            masks = SparseTraining(model, SparseConfig(density=density), 1, SEED).masks
            flops = inference_flops(model, shape, masks)
            save_compact(path, model.state_dict(), masks, {"density": density})
            size = path.stat().st_size
            dense_bytes = dense_bytes or size  # FLOP_DENSITIES starts with the dense model
            rows.append(
                {
                    "model": name,
                    "input": "x".join(map(str, shape)),
                    "density": density,
                    "dense_flops": flops["dense"],
                    "sparse_flops": flops["sparse"],
                    "flops_ratio": flops["ratio"],
                    "checkpoint_bytes": size,
                    "size_ratio": size / dense_bytes,
                }
            )
    return rows


@contextlib.contextmanager
def timed(name: str, phases: dict[str, float]) -> Iterator[None]:
    """Say what is running (the slow parts take minutes) and record how long it took."""
    print(f"{name}...", file=sys.stderr)
    start = time.perf_counter()
    yield
    phases[name] = time.perf_counter() - start


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def training_section(rows: list[dict], repeats: int) -> list[str]:
    table = markdown_table(
        [
            "model",
            "workload",
            "variant",
            "median s/epoch",
            "ms/step",
            f"ratio to ERM (median of {repeats})",
            "paired ratios (min-max)",
            "mask updates timed (ΔT)",
        ],
        [
            [
                r["model"],
                r["workload"],
                r["variant"],
                f"{r['median_seconds']:.3f}",
                f"{r['median_seconds'] / r['steps_per_epoch'] * 1e3:.1f}",
                f"{r['ratio']:.3f}",
                f"{min(r['paired_ratios']):.2f}-{max(r['paired_ratios']):.2f}",
                f"{r['updates_in_timed_epochs']} ({r['update_frequency']})"
                if r["update_frequency"]
                else "-",
            ]
            for r in rows
        ],
    )
    return ["## Training epoch time (rest.engine.Trainer)", "", table, ""]


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
    return [
        "## Data loading (DisEnt PNG layout, Colored MNIST 1%)",
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


def flops_section(rows: list[dict]) -> list[str]:
    table = markdown_table(
        [
            "model",
            "input",
            "density",
            "dense MFLOPs",
            "sparse MFLOPs",
            "FLOPs ratio",
            "checkpoint bytes",
            "size ratio",
        ],
        [
            [
                r["model"],
                r["input"],
                f"{r['density']:g}",
                f"{r['dense_flops'] / 1e6:,.1f}",
                f"{r['sparse_flops'] / 1e6:,.2f}",
                f"{r['flops_ratio']:.4f}",
                f"{r['checkpoint_bytes']:,}",
                f"{r['size_ratio']:.4f}",
            ]
            for r in rows
        ],
    )
    return [
        "## Inference FLOPs and compact checkpoint size per density",
        "",
        "Per-sample inference FLOPs (`rest.sparse.inference_flops`, ERK masks) and the size "
        "of a `save_compact` file; ratios to density 1.",
        "",
        table,
        "",
    ]


def notes(training: list[dict], repeats: int) -> list[str]:
    lines = ["## Notes", ""]
    for r in training:
        if r["variant"] == "ERM":
            continue
        verdict = "met" if r["ratio"] <= GOAL else "NOT MET"
        lines.append(
            f"- {r['model']}: {r['variant']} / ERM = {r['ratio']:.2f}x per epoch (median of "
            f"{repeats} interleaved repetitions, range {min(r['paired_ratios']):.2f}-"
            f"{max(r['paired_ratios']):.2f}). Goal <= {GOAL}x: {verdict}."
        )
    lines += [
        "- Each ratio pairs an epoch with ERM's epoch of the same repetition (run back to "
        "back in rotating order, after one warm-up epoch each). The absolute medians swing "
        "with load from other jobs: compare ratios, not seconds, across variants and runs.",
        f"- Sparse variants update their masks every ΔT steps (ΔT set for a {RUN_EPOCHS}-epoch "
        "run); 'mask updates timed' counts the updates inside the timed epochs. The "
        "amortised cost of an update is measured by `benchmarks/sparse_step.py`.",
        "- ResNet-18 runs on the Colored-MNIST digits zero-padded to 32x32 (the Corrupted "
        "CIFAR-10 input size) with crop-and-flip augmentation, on a seeded subset of the "
        "training images (`--resnet-images`; small with `--quick` to keep the CPU work small).",
        "- Memory: one epoch per variant in a fresh spawned process, mask update at every "
        "step after the first. 'RSS added by training' is the peak after the epoch minus the "
        "peak after setup (imports, data, model): momentum buffers, activations, updates.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads (minutes on CPU)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, help="timed epochs per variant (default 5; 3 quick)")
    parser.add_argument("--cnn-images", type=int, help="CNN training images (default 4000)")
    parser.add_argument("--resnet-images", type=int, help="ResNet-18 training images")
    parser.add_argument("--resnet-batch", type=int, help="ResNet-18 batch size")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown report (+ .json)")
    args = parser.parse_args()
    defaults = QUICK if args.quick else FULL
    cnn_images = args.cnn_images or defaults[0]
    resnet_images = args.resnet_images or defaults[1]
    resnet_batch = args.resnet_batch or defaults[2]
    repeats = args.repeats or defaults[3]
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    device = resolve_device(args.device)
    began = time.perf_counter()

    phases: dict[str, float] = {}
    with timed("load Colored MNIST", phases):
        cmnist = load_dataset(DataConfig(dataset="cmnist", conflict_pct=1.0))
    workloads = [
        Workload("cnn", training_subset(cmnist, cnn_images, 0, "none"), CNN_BATCH),
        Workload("resnet18", training_subset(cmnist, resnet_images, 2, "crop_flip"), resnet_batch),
    ]
    training: list[dict] = []
    memory: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for workload in workloads:
            with timed(f"time {workload.model} epochs", phases):
                training += time_epochs(workload, device, repeats)
        for workload in workloads:
            with timed(f"measure {workload.model} memory", phases):
                memory += measure_memory(workload, device, Path(tmp))
        with timed("time data loading", phases):
            loading = data_loading(device)
        with timed("count FLOPs and checkpoint sizes", phases):
            flops = flops_and_sizes(Path(tmp))
    elapsed = time.perf_counter() - began

    command = "python " + shlex.join(sys.argv)
    machine = (
        f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads; "
        f"device {device_name(device)}"
    )
    report = "\n".join(
        [
            "# Training speed, memory, data loading, FLOPs and checkpoint size",
            "",
            f"- machine: {machine}",
            f"- torch {torch.__version__}, Python {platform.python_version()}",
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- command: `{command}`",
            f"- ran {elapsed:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()),
            "",
            *training_section(training, repeats),
            *memory_section(memory, device),
            *loading_section(loading),
            *flops_section(flops),
            *notes(training, repeats),
        ]
    )
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    raw = {
        "machine": machine,
        "torch": torch.__version__,
        "command": command,
        "seconds": elapsed,
        "phases": phases,
        "training": training,
        "memory": memory,
        "data_loading": loading,
        "flops_and_sizes": flops,
    }
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
