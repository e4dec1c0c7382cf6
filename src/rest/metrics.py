"""Group metrics and model selection (DESIGN.md section 3).

For every split: plain accuracy, the accuracy of every ``(y, b)`` group present,
*unbiased* accuracy (the mean of the group accuracies, equal to plain accuracy on
a uniform test split), *worst-group* accuracy, bias-aligned and bias-conflicting
accuracy, and the mean cross-entropy. Without bias labels only accuracy and loss
exist.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rest.data.dataset import BiasedDataset
from rest.loader import to_model_input
from rest.precision import autocast

SELECTION_METRICS = ("worst_group", "accuracy")


def group_key(y: int, b: int) -> str:
    return f"{y},{b}"


def metrics_from_predictions(
    data: BiasedDataset, predictions: torch.Tensor, losses: torch.Tensor
) -> dict[str, object]:
    """All metrics of one split from per-sample predicted classes and losses."""
    correct = (predictions.cpu() == data.targets).double()
    result: dict[str, object] = {
        "count": len(data),
        "accuracy": correct.mean().item(),
        "loss": losses.float().mean().item(),
    }
    if not data.has_bias_labels:
        return result
    group_ids = data.group_ids
    sums = torch.bincount(group_ids, weights=correct, minlength=data.num_groups)
    counts = torch.bincount(group_ids, minlength=data.num_groups)
    present = counts > 0
    group_acc = sums[present] / counts[present]
    groups = {
        group_key(*data.group_of(g)): (sums[g] / counts[g]).item()
        for g in torch.nonzero(present).flatten().tolist()
    }
    conflicting = data.conflicting
    result.update(
        unbiased=group_acc.mean().item(),
        worst_group=group_acc.min().item(),
        aligned=_masked_mean(correct, ~conflicting),
        conflicting=_masked_mean(correct, conflicting),
        groups=groups,
    )
    return result


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float | None:
    return values[mask].mean().item() if bool(mask.any()) else None


@torch.no_grad()
def predict(
    model: nn.Module,
    data: BiasedDataset,
    device: torch.device,
    batch_size: int = 1024,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits-derived predictions, per-sample cross-entropy and softmax confidence of the target.

    The forward pass runs under ``precision``'s autocast (as training does); the
    logits are taken to fp32 before the loss and softmax.
    """
    was_training = model.training
    model.eval()
    predictions, losses, confidences = [], [], []
    try:
        for start in range(0, len(data), batch_size):
            images = to_model_input(data.images[start : start + batch_size], device)
            targets = data.targets[start : start + batch_size].to(device)
            with autocast(precision, device):
                logits = model(images)
            logits = logits.float()
            predictions.append(logits.argmax(1).cpu())
            losses.append(F.cross_entropy(logits, targets, reduction="none").cpu())
            confidences.append(logits.softmax(1).gather(1, targets[:, None]).squeeze(1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(predictions), torch.cat(losses), torch.cat(confidences)


def evaluate(
    model: nn.Module,
    data: BiasedDataset,
    device: torch.device,
    batch_size: int = 1024,
    precision: str = "fp32",
) -> dict[str, object]:
    predictions, losses, _ = predict(model, data, device, batch_size, precision)
    return metrics_from_predictions(data, predictions, losses)


def selection_metric(valid: BiasedDataset | None) -> str:
    """Worst-group accuracy when validation has bias labels, else plain accuracy."""
    if valid is not None and valid.has_bias_labels:
        return "worst_group"
    return "accuracy"
