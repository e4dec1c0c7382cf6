"""The biased dataset: images held in memory with a target and a bias label each.

Every sample carries an image, a target label ``y`` and a bias label ``b``
(``UNKNOWN_BIAS`` when the data has no bias labels). The pair ``(y, b)`` is its
group; a sample is *bias-aligned* when ``b`` is the bias value that dominates its
class (``aligned_bias[y]``, which is ``y`` itself on the benchmark datasets) and
*bias-conflicting* otherwise.

Images are decoded once and kept as one contiguous ``uint8`` tensor of shape
``(N, C, H, W)``, so a training epoch only indexes and converts whole batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rest.errors import RestError

UNKNOWN_BIAS = -1


@dataclass
class BiasedDataset:
    """One split of a biased dataset.

    ``images`` is ``uint8`` ``(N, C, H, W)``; ``targets`` and ``biases`` are
    ``int64`` ``(N,)``. ``aligned_bias[c]`` is the bias value that class ``c``
    carries in its majority (identity on the benchmarks).
    """

    images: torch.Tensor
    targets: torch.Tensor
    biases: torch.Tensor
    num_classes: int
    num_biases: int
    name: str = "split"
    aligned_bias: torch.Tensor | None = None

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError("images must be a uint8 tensor of shape (N, C, H, W)")
        if self.targets.shape != (n,) or self.biases.shape != (n,):
            raise ValueError("targets and biases must have one entry per image")
        self.targets = self.targets.long()
        self.biases = self.biases.long()
        if self.aligned_bias is None:
            self.aligned_bias = torch.arange(self.num_classes)
        if n == 0:
            raise RestError(f"the {self.name} split is empty; it needs at least one image")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def has_bias_labels(self) -> bool:
        return bool((self.biases != UNKNOWN_BIAS).all())

    @property
    def num_groups(self) -> int:
        return self.num_classes * max(self.num_biases, 1)

    @property
    def group_ids(self) -> torch.Tensor:
        """Per-sample group id ``y * num_biases + b`` (``-1`` where ``b`` is unknown)."""
        groups = self.targets * self.num_biases + self.biases
        return torch.where(self.biases == UNKNOWN_BIAS, torch.full_like(groups, -1), groups)

    @property
    def conflicting(self) -> torch.Tensor:
        """Boolean mask of bias-conflicting samples (all False where ``b`` is unknown)."""
        assert self.aligned_bias is not None
        known = self.biases != UNKNOWN_BIAS
        return known & (self.biases != self.aligned_bias[self.targets])

    @property
    def aligned(self) -> torch.Tensor:
        """Boolean mask of bias-aligned samples (all False where ``b`` is unknown)."""
        return (self.biases != UNKNOWN_BIAS) & ~self.conflicting

    def group_of(self, group_id: int) -> tuple[int, int]:
        """The ``(y, b)`` pair of a group id."""
        return divmod(group_id, self.num_biases)

    def group_counts(self) -> dict[tuple[int, int], int]:
        """Number of samples in each ``(y, b)`` group that occurs (empty without bias labels)."""
        ids = self.group_ids
        ids = ids[ids >= 0]
        counts = torch.bincount(ids, minlength=self.num_groups)
        return {self.group_of(g): int(c) for g, c in enumerate(counts.tolist()) if c > 0}

    def subset(self, indices: torch.Tensor) -> BiasedDataset:
        """A new split holding the given samples (in that order)."""
        return BiasedDataset(
            images=self.images[indices],
            targets=self.targets[indices],
            biases=self.biases[indices],
            num_classes=self.num_classes,
            num_biases=self.num_biases,
            name=self.name,
            aligned_bias=self.aligned_bias,
        )


@dataclass
class BiasedSplits:
    """Train, validation and test splits of one biased dataset, with what produced them.

    ``info`` records the source (reader or generator name, path, conflict ratio,
    seed, ...) and recommended defaults such as ``"augment"`` and ``"model"``.
    ``valid`` may be ``None`` when the source has no validation split.
    """

    train: BiasedDataset
    valid: BiasedDataset | None
    test: BiasedDataset
    name: str
    info: dict[str, object] = field(default_factory=dict)

    def splits(self) -> dict[str, BiasedDataset]:
        """The splits that exist, by name, in train/valid/test order."""
        named = {"train": self.train, "valid": self.valid, "test": self.test}
        return {k: v for k, v in named.items() if v is not None}


def majority_bias(targets: torch.Tensor, biases: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``aligned_bias``: for each class, the bias value most of its labelled samples carry.

    Used where the data does not say which bias goes with which class (a metadata CSV,
    a folder of files): the majority within the class is what a biased model learns
    to rely on. A class without any bias-labelled sample keeps its own index.
    Ties go to the smallest bias value.
    """
    aligned = torch.arange(num_classes)
    known = biases != UNKNOWN_BIAS
    for c in range(num_classes):
        values = biases[known & (targets == c)]
        if values.numel():
            aligned[c] = int(torch.bincount(values).argmax())
    return aligned
