"""Training-step time of a masked (RigL) model against the same dense model.

Each repetition times one step of every variant in turn (dense and each density,
in rotating order) on the same batch, so drifts in machine load hit all variants
alike; the table reports medians. A RigL step costs a plain masked step except at mask updates; the
update's extra cost is measured on its own and spread over the automatic update
interval of an assumed run (``--run-steps``, default the 2,800-step run of DESIGN.md
1.2: 100 epochs of 7,000 images at batch 256), i.e.

    amortised = masked step + (update step - masked step) / update_frequency.

Usage: python benchmarks/sparse_step.py [--reps 11] [--resnet-batch 8 32] [--device cuda]

The masks are dense boolean tensors, so every step pays two memory passes over the
masked weights (gradients before the optimizer step, weights after it) on top of the
dense step; that fixed cost weighs most at small batches on a CPU.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rest.models import build_model
from rest.sparse import SparseConfig, SparseTraining

RESULTS = Path(__file__).parent / "results" / "sparse_step.md"
DENSITIES = (0.1, 0.01)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)


class Variant:
    """A model, its optimizer and (unless dense) its sparse engine."""

    def __init__(self, model: nn.Module, density: float | None, run_steps: int) -> None:
        self.model = model
        self.density = density
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        self.sparse = None
        if density is not None:
            config = SparseConfig(density=density, strategy="rigl")
            self.sparse = SparseTraining(model, config, total_steps=run_steps, seed=0)
            self.sparse.attach(self.optimizer)

    def step(self, data: tuple[torch.Tensor, torch.Tensor], step: int) -> float:
        synchronize(data[0].device)
        start = time.perf_counter()
        self.optimizer.zero_grad()
        F.cross_entropy(self.model(data[0]), data[1]).backward()
        if self.sparse is not None:
            self.sparse.before_optimizer_step(step)
        self.optimizer.step()
        if self.sparse is not None:
            self.sparse.after_optimizer_step(step)
        synchronize(data[0].device)
        return time.perf_counter() - start


def benchmark(
    name: str, shape: tuple[int, int, int], batch_size: int, args: argparse.Namespace
) -> list[dict]:
    torch.manual_seed(0)
    base = build_model(name, 10, shape).to(args.device)
    variants = [Variant(copy.deepcopy(base), d, args.run_steps) for d in (None, *DENSITIES)]
    data = (
        torch.rand(batch_size, *shape, device=args.device),
        torch.randint(0, 10, (batch_size,), device=args.device),
    )
    frequency = variants[1].sparse.update_frequency
    plain_step = 1  # not an update step: 0 < 1 < frequency
    for _ in range(2):  # warm-up
        for variant in variants:
            variant.step(data, plain_step)
    times: dict[float | None, list[float]] = {v.density: [] for v in variants}
    for rep in range(args.reps):  # rotate the order so no variant always runs first
        for variant in variants[rep % len(variants) :] + variants[: rep % len(variants)]:
            times[variant.density].append(variant.step(data, plain_step))
    # Each update step is paired with a dense step just before it.
    updates: dict[float | None, list[float]] = {v.density: [] for v in variants}
    for k in range(1, args.update_reps + 1):
        for variant in variants:
            assert variant.sparse is None or variant.sparse.is_update_step(k * frequency)
            updates[variant.density].append(variant.step(data, k * frequency))
    rows = []
    for density in DENSITIES:
        # Ratios of steps taken moments apart share the machine's load of that moment.
        masked = statistics.median(m / d for m, d in zip(times[density], times[None], strict=True))
        update = statistics.median(
            u / d for u, d in zip(updates[density], updates[None], strict=True)
        )
        amortised = masked + (update - masked) / frequency
        rows.append(
            {
                "model": name,
                "input": "x".join(map(str, shape)),
                "batch": batch_size,
                "density": density,
                "dense_ms": statistics.median(times[None]) * 1e3,
                "masked_ms": statistics.median(times[density]) * 1e3,
                "update_ms": statistics.median(updates[density]) * 1e3,
                "masked_ratio": masked,
                "frequency": frequency,
                "ratio": amortised,
            }
        )
        print(f"{name} b={batch_size} d={density}: ratio {amortised:.3f}", file=sys.stderr)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| model | input | batch | density | dense step (ms) | masked step (ms) "
        "| update step (ms) | masked / dense | ΔT | amortised / dense |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['input']} | {r['batch']} | {r['density']} "
            f"| {r['dense_ms']:.1f} | {r['masked_ms']:.1f} | {r['update_ms']:.1f} "
            f"| {r['masked_ratio']:.3f} | {r['frequency']} | {r['ratio']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=11, help="timed steps per variant")
    parser.add_argument("--update-reps", type=int, default=3, help="timed mask-update steps")
    parser.add_argument("--cnn-batch", type=int, default=256)
    parser.add_argument("--resnet-batch", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--run-steps", type=int, default=2800, help="assumed run length")
    parser.add_argument("--device", type=torch.device, default=torch.device("cpu"))
    parser.add_argument(
        "--threads", type=int, help="CPU threads for torch (default: torch's choice)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = benchmark("cnn", (3, 28, 28), args.cnn_batch, args)
    for batch_size in args.resnet_batch:
        rows += benchmark("resnet18", (3, 32, 32), batch_size, args)
    command = "python benchmarks/sparse_step.py " + " ".join(sys.argv[1:])
    report = "\n".join(
        [
            "# Sparse training step vs dense step",
            "",
            table(rows),
            "",
            "RigL (ERK, SGD momentum 0.9), full-width models. Step times: medians of "
            f"{args.reps} interleaved steps per variant on one batch; update step: median "
            f"of {args.update_reps} RigL mask updates. Ratios: medians of per-repetition "
            "ratios to the dense step timed moments apart. ΔT is the automatic update "
            f"frequency for an assumed run of {args.run_steps} steps (30 updates). "
            "amortised = masked + (update - masked) / ΔT, as ratios. Masked weights are "
            "stored dense, so the goal is overhead, not speed-up: at most 1.15x. Each step "
            "pays two "
            "memory passes over the masked weights (gradients before the optimizer step, "
            "weights after it), a fixed cost that weighs most at small batches on a CPU.",
            "",
            f"- machine: {cpu_model()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads; device {device_name(args.device)}",
            f"- torch {torch.__version__}, Python {platform.python_version()}",
            f"- command: `{command.strip()}`",
            "",
        ]
    )
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
