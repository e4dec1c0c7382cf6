"""A generated benchmark: an image source, a bias transform, and recommended defaults.

Each registered benchmark (one module each in this package) is a
:class:`Benchmark`; :meth:`Benchmark.generate` builds it in memory and
:func:`rest.data.make.make_dataset` writes it in the DisEnt layout, from the same
:meth:`Benchmark.generate_split`, so both give the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from rest.data.arrays import SplitArrays, assemble
from rest.data.dataset import BiasedSplits
from rest.data.generators.build import Transform, generate_split
from rest.data.sources import ImageSource, load_source
from rest.errors import RestError
from rest.registry import Registry

if TYPE_CHECKING:
    from rest.data.config import DataConfig

# The number of bias values every transform provides (10 colours, 10 corruption types).
MAX_CLASSES = 10


@dataclass(frozen=True)
class Benchmark:
    """How to turn a labelled image source into a biased benchmark.

    ``describe(severity)`` lists the generation parameters for the manifest;
    ``flat_valid`` picks the DisEnt variant ``rest data make`` writes (CMNIST keeps
    ``valid/`` flat, CIFAR-10C uses class folders); ``heldout`` is the protocol of
    the valid and test splits when the config says ``auto`` (see
    :mod:`rest.data.generators.build`).
    """

    name: str
    summary: str
    default_source: str
    transform: Transform
    describe: Callable[[int], dict[str, object]]
    augment: str
    model: str
    flat_valid: bool
    heldout: str

    def heldout_protocol(self, requested: str) -> str:
        """The valid/test protocol for the config value ``requested`` (``auto``: ours)."""
        return self.heldout if requested == "auto" else requested

    def load_source(self, source: str | None) -> ImageSource:
        """The source to build from (``None``: this benchmark's default)."""
        loaded = load_source(source or self.default_source)
        if not 2 <= loaded.num_classes <= MAX_CLASSES:
            raise RestError(
                f"{self.name} needs a source with 2 to {MAX_CLASSES} classes; "
                f"{loaded.name} has {loaded.num_classes}"
            )
        return loaded

    def generate_split(
        self,
        source: ImageSource,
        split: str,
        conflict_pct: float,
        severity: int,
        data_seed: int,
        heldout: str = "auto",
    ) -> SplitArrays:
        return generate_split(
            self.transform,
            source.split(split),
            split,
            source.num_classes,
            conflict_pct,
            severity,
            data_seed,
            self.heldout_protocol(heldout),
        )

    def recommended(self) -> dict[str, object]:
        return {"augment": self.augment, "model": self.model}

    def generate(self, config: DataConfig) -> BiasedSplits:
        """All three splits in memory, as ``rest data make`` would write them."""
        source = self.load_source(config.source)
        heldout = self.heldout_protocol(config.heldout)
        parts = {
            split: self.generate_split(
                source, split, config.conflict_pct, config.severity, config.data_seed, heldout
            )
            for split in ("train", "valid", "test")
        }
        info: dict[str, object] = {
            "name": self.name,
            "generator": self.name,
            "source": source.name,
            "source_description": source.description,
            "conflict_pct": config.conflict_pct,
            "severity": config.severity,
            "heldout": heldout,
            "data_seed": config.data_seed,
            **self.recommended(),
        }
        return assemble(
            self.name,
            parts["train"],
            parts["valid"],
            parts["test"],
            info,
            num_classes=source.num_classes,
            num_biases=source.num_classes,
            aligned_bias=torch.arange(source.num_classes),
        )


DATASETS: Registry[Benchmark] = Registry("dataset")
