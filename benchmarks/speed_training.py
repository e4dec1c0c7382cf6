"""Training epoch time: ERM vs REST variants through the library's own ``Trainer``.

One trainer per variant, all alive at once and trained epoch by epoch in rotating
order, so drifts in machine load hit every variant alike; ratios pair epochs of the
same repetition.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rest.build import build_training
from rest.config import TrainConfig
from rest.data import BiasedSplits
from rest.resolve import resolve
from rest.trainer import Trainer
from speed_report import markdown_table

SEED = 0


RUN_EPOCHS = 100  # the published run length: sets the sparse variants' mask-update interval


CNN_BATCH = 256


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
    workload: Workload,
    variant: Variant,
    device: torch.device,
    update_frequency: int | None = None,
    precision: str = "fp32",
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
            "run": {"device": device.type, "seed": SEED, "precision": precision},
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
