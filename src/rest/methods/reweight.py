"""Dense reweighting: upweight the bias-conflicting training samples by ``lambda_up``.

The conflicting set comes from the bias labels by default, or is inferred
(``--conflict-source jtt|gce``). The weights are applied through a weighted
sampler with replacement (as published) or as per-sample loss weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rest.loader import Batch
from rest.methods.base import METHODS, Method
from rest.reweight.inference import infer_conflict_set
from rest.reweight.weights import (
    default_lambda_up,
    expected_upweighted_share,
    upweight,
    weighted_cross_entropy,
)

if TYPE_CHECKING:
    from rest.config import TrainConfig


@METHODS.register("reweight")
class Reweight(Method):
    conflict_source = "labels"
    reads = frozenset(
        {
            "reweight.lambda_up",
            "reweight.reweight_by",
            "reweight.conflict_source",
            "reweight.infer_epochs",
            "reweight.gce_q",
        }
    )

    weights: torch.Tensor | None = None

    def prepare(self) -> dict[str, Any]:
        config = self.context.config.reweight
        assert config.conflict_source is not None, "resolve() sets the conflict source"
        conflicts = infer_conflict_set(config.conflict_source, self.context)
        # The share of the set the method upweights -- the true share only when the set
        # comes from the labels: a label-free run never reads the bias labels.
        share = conflicts.report["upweighted_share"]
        lambda_up = config.lambda_up if config.lambda_up is not None else default_lambda_up(share)
        self.weights = upweight(conflicts.upweighted, lambda_up)
        return {
            **conflicts.report,
            "lambda_up": lambda_up,
            "reweight_by": config.reweight_by,
            "expected_sampled_share": expected_upweighted_share(conflicts.upweighted, lambda_up),
        }

    @classmethod
    def auxiliary_training(
        cls, config: TrainConfig, train_size: int, epochs_trained: int
    ) -> dict[str, float]:
        """An inferred set costs the inference model's epochs and one pass over train."""
        source = config.reweight.conflict_source
        if source in (None, "labels"):
            return {}
        return {f"{source}_inference": (3 * config.reweight.infer_epochs + 1) * train_size}

    @property
    def _by_loss(self) -> bool:
        return self.context.config.reweight.reweight_by == "loss"

    def sample_weights(self) -> torch.Tensor | None:
        return None if self._by_loss else self.weights

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._by_loss:
            return super().loss(model, batch)
        assert self.weights is not None, "prepare() sets the weights"
        if self.weights.device != batch.targets.device:
            self.weights = self.weights.to(batch.targets.device)
        logits = model(batch.images)
        return weighted_cross_entropy(logits, batch.targets, self.weights[batch.indices]), logits

    def state_dict(self) -> dict[str, Any]:
        return {"weights": None if self.weights is None else self.weights.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights = state["weights"]
