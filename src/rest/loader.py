"""Batches of an in-memory biased dataset, sampled uniformly or by per-sample weights.

An epoch is a list of indices: a permutation, or -- when the method reweights by
sampling -- ``len(data)`` draws with replacement proportional to the sample
weights (as the published REST code does). A batch is cut from the ``uint8``
image tensor with one indexing operation, moved to the device, converted to float
in [0, 1] and augmented on the whole batch at once, so a CPU epoch never waits on
per-sample decoding. On a GPU, a split whose uint8 images fit in a quarter of the
free GPU memory is copied there once, so batches are cut, converted and augmented
on the GPU and only the indices cross from the host each step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from rest.data.dataset import BiasedDataset

AUGMENTATIONS = ("none", "crop_flip")


@dataclass
class Batch:
    """What a sample carries into the training loop."""

    images: torch.Tensor  # float (B, C, H, W) in [0, 1], on the training device
    targets: torch.Tensor  # int64 (B,)
    biases: torch.Tensor  # int64 (B,), -1 where unknown
    groups: torch.Tensor  # int64 (B,), -1 where unknown
    indices: torch.Tensor  # int64 (B,) positions in the training split

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def to_model_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float in [0, 1] on ``device``.

    Converted after the copy, so a host-to-GPU transfer moves 4x fewer bytes.
    """
    return images.to(device, non_blocking=True).float().div_(255)


def random_crop_flip(
    images: torch.Tensor, generator: torch.Generator, padding: int = 4
) -> torch.Tensor:
    """Random crop after zero padding and random horizontal flip, for a whole batch.

    Each image gets its own offsets and flip, drawn from ``generator`` (on CPU, so
    runs are reproducible whatever the device).
    """
    n, _, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator).to(images.device)
    rows = offsets[0][:, None] + torch.arange(h, device=images.device)[None, :]
    cols = offsets[1][:, None] + torch.arange(w, device=images.device)[None, :]
    flips = torch.rand(n, generator=generator).to(images.device) < 0.5
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def fits_on_gpu(images: torch.Tensor, device: torch.device) -> bool:
    """Whether ``images`` (uint8) may live on ``device``: a CUDA device with four times
    their size free, leaving room for the model, activations and evaluation."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return images.numel() * images.element_size() * 4 <= free


class BatchLoader:
    """Iterates one epoch of batches over a split.

    ``sample_weights`` (one non-negative weight per sample) switches to weighted
    sampling with replacement; ``None`` is a plain shuffle. ``augment`` is applied
    to training batches only.
    """

    def __init__(
        self,
        data: BiasedDataset,
        batch_size: int,
        device: torch.device,
        generator: torch.Generator,
        sample_weights: torch.Tensor | None = None,
        augment: str = "none",
    ) -> None:
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {augment!r}")
        self.data = data
        self.batch_size = batch_size
        self.device = device
        self.generator = generator
        self.sample_weights = sample_weights
        self.augment = augment
        self._images, self._targets = data.images, data.targets
        self._biases, self._group_ids = data.biases, data.group_ids
        if fits_on_gpu(data.images, device):
            self._images, self._targets, self._biases, self._group_ids = (
                t.to(device) for t in (self._images, self._targets, self._biases, self._group_ids)
            )

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def epoch_indices(self) -> torch.Tensor:
        n = len(self.data)
        if self.sample_weights is None:
            return torch.randperm(n, generator=self.generator)
        return torch.multinomial(
            self.sample_weights.double(), n, replacement=True, generator=self.generator
        )

    def __iter__(self) -> Iterator[Batch]:
        order = self.epoch_indices()
        for start in range(0, len(order), self.batch_size):
            indices = order[start : start + self.batch_size]
            rows = indices.to(self._images.device, non_blocking=True)
            images = to_model_input(self._images[rows], self.device)
            if self.augment == "crop_flip":
                images = random_crop_flip(images, self.generator)
            yield Batch(
                images=images,
                targets=self._targets[rows].to(self.device, non_blocking=True),
                biases=self._biases[rows].to(self.device, non_blocking=True),
                groups=self._group_ids[rows].to(self.device, non_blocking=True),
                indices=rows.to(self.device, non_blocking=True),
            )
