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
  Also a first run (decode and write the ``--cache-dir`` cache) vs a later, cached run.
- FLOPs and checkpoint sizes: per density, at each model's real input size.
- Floor and precision (``speed_epoch.py``): a bare PyTorch loop beside REST's epoch in
  fp32 and bf16; the evaluation share of an epoch on the built-in data.
- Memory vs dataset size (``speed_memory.py``): one epoch over LfF datasets of two
  sizes, memory-mapped from the cache vs decoded into memory.

Sections live in ``speed_training.py``, ``speed_epoch.py``, ``speed_memory.py``,
``speed_data.py`` and ``speed_flops.py``; ``--sections`` picks some of them.

Usage: python benchmarks/speed.py [--quick] [--device cpu|cuda] [--repeats N]
       [--sections variants,floor,...] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from rest.data import DataConfig, load_dataset
from rest.trainer import resolve_device
from sparse_step import cpu_model, device_name
from speed_data import data_loading, loading_section
from speed_epoch import evaluation_section, evaluation_share, floor_and_precision, floor_section
from speed_flops import flops_and_sizes, flops_section
from speed_memory import mapped_memory, mapped_memory_section, measure_memory, memory_section
from speed_report import timed
from speed_training import (
    CNN_BATCH,
    RUN_EPOCHS,
    Workload,
    time_epochs,
    training_section,
    training_subset,
)

RESULTS = Path(__file__).parent / "results" / "speed.md"
GOAL = 1.15
# (cnn images, resnet18 images, resnet18 batch, repeats): full size, and a --quick run
# that fits in minutes on two shared CPU cores.
FULL = (4000, 2048, 256, 5)
QUICK = (1024, 64, 32, 5)


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


SECTIONS = ("variants", "memory", "loading", "flops", "floor", "evaluation", "mapped")
MAPPED_IMAGE_SIZE = 32
MAPPED_SIZES = {"full": (50_000, 200_000), "quick": (20_000, 80_000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads (minutes on CPU)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, help="timed epochs per variant (default 5; 3 quick)")
    parser.add_argument("--cnn-images", type=int, help="CNN training images (default 4000)")
    parser.add_argument("--resnet-images", type=int, help="ResNet-18 training images")
    parser.add_argument("--resnet-batch", type=int, help="ResNet-18 batch size")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {', '.join(SECTIONS)})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown report (+ .json)")
    args = parser.parse_args()
    sections = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown or not sections:
        parser.error(f"--sections: unknown {unknown}; choose from {', '.join(SECTIONS)}")
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
    cnn = Workload("cnn", training_subset(cmnist, cnn_images, 0, "none"), CNN_BATCH)
    workloads = [
        cnn,
        Workload("resnet18", training_subset(cmnist, resnet_images, 2, "crop_flip"), resnet_batch),
    ]
    raw: dict[str, object] = {}
    report: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "variants" in sections:
            training: list[dict] = []
            for workload in workloads:
                with timed(f"time {workload.model} epochs", phases):
                    training += time_epochs(workload, device, repeats)
            raw["training"] = training
            report += training_section(training, repeats)
        if "floor" in sections:
            with timed("time the fp32 floor, REST fp32 and bf16", phases):
                raw["floor"] = floor_and_precision(cnn, device, repeats)
            report += floor_section(raw["floor"], repeats)
        if "evaluation" in sections:
            with timed("time evaluation vs training", phases):
                raw["evaluation"] = evaluation_share(cmnist, device, repeats)
            report += evaluation_section(raw["evaluation"], repeats)
        if "memory" in sections:
            memory: list[dict] = []
            for workload in workloads:
                with timed(f"measure {workload.model} memory", phases):
                    memory += measure_memory(workload, device, Path(tmp))
            raw["memory"] = memory
            report += memory_section(memory, device)
        if "mapped" in sections:
            sizes = MAPPED_SIZES["quick" if args.quick else "full"]
            with timed("measure memory vs dataset size", phases):
                raw["mapped"] = mapped_memory(Path(tmp), sizes, MAPPED_IMAGE_SIZE)
            report += mapped_memory_section(raw["mapped"], MAPPED_IMAGE_SIZE)
        if "loading" in sections:
            with timed("time data loading", phases):
                raw["data_loading"] = data_loading(device)
            report += loading_section(raw["data_loading"])
        if "flops" in sections:
            with timed("count FLOPs and checkpoint sizes", phases):
                raw["flops_and_sizes"] = flops_and_sizes(Path(tmp))
            report += flops_section(raw["flops_and_sizes"])
    if "variants" in sections:
        report += notes(raw["training"], repeats)
    elapsed = time.perf_counter() - began

    command = "python " + shlex.join(sys.argv)
    machine = (
        f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads; "
        f"device {device_name(device)}"
    )
    text = "\n".join(
        [
            "# Training speed, memory, data loading, FLOPs and checkpoint size",
            "",
            f"- machine: {machine}",
            f"- torch {torch.__version__}, Python {platform.python_version()}",
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- command: `{command}`",
            f"- ran {elapsed:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()),
            "",
            *report,
        ]
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    raw = {
        "machine": machine,
        "torch": torch.__version__,
        "command": command,
        "seconds": elapsed,
        "phases": phases,
        **raw,
    }
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
