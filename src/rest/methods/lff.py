"""LfF, Learning from Failure (Nam et al., 2020).

A biased model, trained with generalized cross-entropy, picks up the shortcut; the
main (debiased) model weighs each sample by its relative difficulty
``L_biased / (L_biased + L_main)``, computed on per-sample moving averages of both
losses normalised by their per-class maximum. Samples the biased model fails on
(the bias-conflicting ones) get weights near 1, easy aligned samples near 0.
No bias labels needed.

Published settings (Nam et al. 2020, Colored MNIST): both models trained with Adam
at lr 1e-3, EMA 0.7, GCE q 0.7 -- the defaults here when ``--optimizer`` and
``--lr`` are unset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from rest.loader import Batch
from rest.methods.base import METHODS, Method, MethodContext
from rest.optim import build_optimizer
from rest.reweight.gce import generalized_cross_entropy

if TYPE_CHECKING:
    from rest.config import TrainConfig


class LossAverage:
    """Per-sample exponential moving average of a loss, normalised per class."""

    def __init__(self, targets: torch.Tensor, num_classes: int, decay: float) -> None:
        self.targets = targets
        self.num_classes = num_classes
        self.decay = decay
        self.values = torch.zeros(targets.shape[0])
        self.seen = torch.zeros(targets.shape[0], dtype=torch.bool)

    def update(self, indices: torch.Tensor, losses: torch.Tensor) -> None:
        indices, losses = indices.cpu(), losses.detach().float().cpu()
        old = self.values[indices]
        new = torch.where(self.seen[indices], self.decay * old + (1 - self.decay) * losses, losses)
        self.values[indices] = new
        self.seen[indices] = True

    def normalised(self, indices: torch.Tensor) -> torch.Tensor:
        indices = indices.cpu()
        class_max = torch.zeros(self.num_classes).scatter_reduce(
            0, self.targets, self.values, reduce="amax"
        )
        return self.values[indices] / class_max[self.targets[indices]].clamp_min(1e-8)


@METHODS.register("lff")
class LfF(Method):
    reads = frozenset({"options.lff_ema", "reweight.gce_q"})
    default_optimizer = "adam"
    default_lr = 1e-3

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        config = context.config
        self.biased_model = context.build_model().to(context.device)
        self.biased_optimizer = build_optimizer(self.biased_model.parameters(), config.optim)
        train = context.splits.train
        decay = config.options.lff_ema
        self.biased_loss = LossAverage(train.targets, train.num_classes, decay)
        self.main_loss = LossAverage(train.targets, train.num_classes, decay)

    @classmethod
    def auxiliary_training(
        cls, config: TrainConfig, train_size: int, epochs_trained: int
    ) -> dict[str, float]:
        """The dense biased model trains on every sample the main model trains on."""
        del config
        return {"lff_biased_model": 3 * epochs_trained * train_size}

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        self.biased_model.train()
        biased_logits = self.biased_model(batch.images)
        logits = model(batch.images)
        with torch.no_grad():
            self.biased_loss.update(
                batch.indices, F.cross_entropy(biased_logits, batch.targets, reduction="none")
            )
            self.main_loss.update(
                batch.indices, F.cross_entropy(logits, batch.targets, reduction="none")
            )
            weights = self.relative_difficulty(batch.indices).to(logits.device)

        q = self.context.config.reweight.gce_q
        self.biased_optimizer.zero_grad(set_to_none=True)
        generalized_cross_entropy(biased_logits, batch.targets, q).backward()
        self.biased_optimizer.step()

        losses = F.cross_entropy(logits, batch.targets, reduction="none")
        return (losses * weights).mean(), logits

    def relative_difficulty(self, indices: torch.Tensor) -> torch.Tensor:
        """The main model's weight of each sample: ``L_biased / (L_biased + L_main)`` on the
        class-normalised moving averages (near 1 where only the biased model fails)."""
        biased = self.biased_loss.normalised(indices)
        main = self.main_loss.normalised(indices)
        return biased / (biased + main).clamp_min(1e-8)

    def state_dict(self) -> dict[str, Any]:
        return {
            "biased_model": self.biased_model.state_dict(),
            "biased_optimizer": self.biased_optimizer.state_dict(),
            "biased_loss": (self.biased_loss.values, self.biased_loss.seen),
            "main_loss": (self.main_loss.values, self.main_loss.seen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.biased_model.load_state_dict(state["biased_model"])
        self.biased_optimizer.load_state_dict(state["biased_optimizer"])
        self.biased_loss.values, self.biased_loss.seen = state["biased_loss"]
        self.main_loss.values, self.main_loss.seen = state["main_loss"]
