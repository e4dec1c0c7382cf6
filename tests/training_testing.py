"""Tiny biased data generated in memory and tiny configs, shared by the top-level tests."""

from __future__ import annotations

import torch

from rest.config import TrainConfig
from rest.data.dataset import BiasedDataset, BiasedSplits

NUM_CLASSES = 4


def make_split(
    n: int, conflict_share: float, seed: int, name: str, with_bias: bool = True
) -> BiasedDataset:
    """4 classes drawn as a bright block in one of 4 quadrants (the real signal), tinted
    by a bias colour that equals the class for all but ``conflict_share`` of the samples."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.arange(n) % NUM_CLASSES
    biases = targets.clone()
    n_conflict = round(conflict_share * n)
    conflict_idx = torch.randperm(n, generator=generator)[:n_conflict]
    shift = torch.randint(1, NUM_CLASSES, (n_conflict,), generator=generator)
    biases[conflict_idx] = (targets[conflict_idx] + shift) % NUM_CLASSES
    images = torch.randint(0, 40, (n, 3, 12, 12), generator=generator, dtype=torch.uint8)
    for i in range(n):
        row, col = divmod(int(targets[i]), 2)
        images[i, :, row * 6 : row * 6 + 6, col * 6 : col * 6 + 6] += 100
    tints = torch.tensor([[90, 0, 0], [0, 90, 0], [0, 0, 90], [90, 90, 0]], dtype=torch.uint8)
    images += tints[biases][:, :, None, None]
    return BiasedDataset(
        images=images,
        targets=targets,
        biases=biases if with_bias else torch.full_like(biases, -1),
        num_classes=NUM_CLASSES,
        num_biases=NUM_CLASSES,
        name=name,
    )


def make_splits(with_bias: bool = True, valid: bool = True) -> BiasedSplits:
    return BiasedSplits(
        train=make_split(320, 0.05, 0, "train", with_bias),
        valid=make_split(96, 0.75, 1, "valid", with_bias) if valid else None,
        test=make_split(96, 0.75, 2, "test", with_bias),
        name="tiny",
        info={"name": "tiny", "augment": "none", "model": "cnn", "conflict_pct": 5.0},
    )


def tiny_config(method: str = "erm", **sections: dict) -> TrainConfig:
    """A config that trains in well under a second per epoch on the tiny data."""
    values: dict = {
        "method": method,
        "model": {"model": "cnn", "width": 8},
        "optim": {"epochs": 2, "batch_size": 64, "lr": 0.05, "scheduler": "none"},
        "run": {"device": "cpu", "seed": 0},
    }
    for section, fields in sections.items():
        values.setdefault(section, {}).update(fields)
    return TrainConfig.from_dict(values)
