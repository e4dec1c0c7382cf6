"""What a training method is: a loss over a batch, plus optional preparation.

A method sees a :class:`~rest.loader.Batch` and returns the loss to minimise; it
may prepare before training (infer a conflicting set, set sample weights) and may
keep state that must survive a resume. It never touches the optimizer of the main
model or its masks: the engine owns those, so sparse training plugs in around
every method the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.loader import Batch
from rest.registry import Registry

if TYPE_CHECKING:
    from rest.config import TrainConfig

# (method, epochs, description) -> trained throwaway model of the run's architecture
AuxiliaryTrainer = Callable[["Method", int, str], nn.Module]


@dataclass
class MethodContext:
    """What a method may use: the resolved config, the data, the device, and a way to
    train a throwaway model with the engine's loop (for conflict-set inference)."""

    config: TrainConfig
    splits: BiasedSplits
    device: torch.device
    build_model: Callable[[], nn.Module]
    train_auxiliary: AuxiliaryTrainer


class Method:
    """Base class: plain mean cross-entropy, uniform sampling, dense network."""

    #: trains a sparse network (density from the sparse config) when True
    sparse: ClassVar[bool] = False
    #: needs bias labels on the training split
    needs_bias_labels: ClassVar[bool] = False
    #: default source of the conflicting set for reweighting methods (None: no reweighting)
    conflict_source: ClassVar[str | None] = None
    #: the method-specific config fields ("section.name") this method reads; giving any
    #: other field some method declares is an error, and a sweep leaves it at its default
    reads: ClassVar[frozenset[str]] = frozenset()
    #: the optimizer the method was published with (``--optimizer`` unset)
    default_optimizer: ClassVar[str] = "sgd"
    #: its published learning rate (``--lr`` unset); None: the model's published one
    default_lr: ClassVar[float | None] = None

    def __init__(self, context: MethodContext) -> None:
        self.context = context
        train = context.splits.train
        if self.needs_bias_labels and not train.has_bias_labels:
            raise RestError(
                f"method {self.name!r} needs bias labels, but the training split of "
                f"{context.splits.name!r} has none; use erm, sparse, jtt or lff, or "
                "--conflict-source jtt/gce"
            )

    @property
    def name(self) -> str:
        return self.context.config.method

    @classmethod
    def auxiliary_training(
        cls, config: TrainConfig, train_size: int, epochs_trained: int
    ) -> dict[str, float]:
        """Work on models other than the main one, for the training FLOPs: component name
        -> dense forward passes, in samples (a training sample costs 3: forward + backward)."""
        del config, train_size, epochs_trained
        return {}

    def prepare(self) -> dict[str, Any]:
        """Work done once before training; returns a JSON-able report for the summary."""
        return {}

    def sample_weights(self) -> torch.Tensor | None:
        """Per-training-sample sampling weights, or None for a plain shuffle."""
        return None

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, logits) for one batch."""
        logits = model(batch.images)
        return F.cross_entropy(logits, batch.targets), logits

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state


METHODS: Registry[type[Method]] = Registry("method")
