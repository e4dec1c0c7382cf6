"""Which training samples count as bias-conflicting.

``labels`` reads them off the bias labels (the oracle the published code uses).
Without bias labels the set is inferred: ``jtt`` takes the training error set of
an ERM model trained for a few epochs (Liu et al., 2021); ``gce`` takes the errors
of a model trained with generalized cross-entropy, which leans on the shortcut
even harder (the "biased model" of LfF, Nam et al., 2020). Whenever bias labels
exist, the inferred set is scored against the true one (precision / recall).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rest.errors import RestError
from rest.loader import Batch
from rest.methods.base import Method, MethodContext
from rest.metrics import predict
from rest.reweight.gce import generalized_cross_entropy


class GCEBiasedModelLoss(Method):
    """Trains the throwaway biased model of the ``gce`` source."""

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(batch.images)
        q = self.context.config.reweight.gce_q
        return generalized_cross_entropy(logits, batch.targets, q), logits


@dataclass
class ConflictSet:
    """The samples to upweight and how well they match the true conflicting set."""

    upweighted: torch.Tensor  # bool, one entry per training sample
    source: str
    report: dict[str, Any] = field(default_factory=dict)


def score_against_labels(inferred: torch.Tensor, true: torch.Tensor) -> dict[str, float | None]:
    """Precision and recall of an inferred conflicting set against the true one."""
    hits = float((inferred & true).sum())
    n_inferred, n_true = float(inferred.sum()), float(true.sum())
    return {
        "precision": hits / n_inferred if n_inferred else None,
        "recall": hits / n_true if n_true else None,
    }


def infer_conflict_set(source: str, context: MethodContext) -> ConflictSet:
    train = context.splits.train
    if source == "labels":
        if not train.has_bias_labels:
            raise RestError(
                f"--conflict-source labels needs bias labels, but the training split of "
                f"{context.splits.name!r} has none; use --conflict-source jtt or gce"
            )
        upweighted = train.conflicting.clone()
    else:
        epochs = context.config.reweight.infer_epochs
        method = Method(context) if source == "jtt" else GCEBiasedModelLoss(context)
        model = context.train_auxiliary(method, epochs, f"{source}: inferring conflicts")
        predictions, _, _ = predict(
            model, train, context.device, context.config.run.eval_batch_size
        )
        upweighted = predictions != train.targets
    report: dict[str, Any] = {
        "source": source,
        "upweighted": int(upweighted.sum()),
        "upweighted_share": float(upweighted.float().mean()),
    }
    if source != "labels" and train.has_bias_labels:
        report.update(score_against_labels(upweighted, train.conflicting))
    return ConflictSet(upweighted=upweighted, source=source, report=report)
