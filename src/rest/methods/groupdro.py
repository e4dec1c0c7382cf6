"""Online GroupDRO (Sagawa et al., 2020): minimise the worst expected group loss.

Keeps a distribution ``q`` over the ``(y, b)`` groups; after every batch, ``q_g``
grows by ``exp(eta * loss_g)`` for each group seen, and the loss is the
``q``-weighted sum of the per-group mean losses. Needs bias labels.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rest.loader import Batch
from rest.methods.base import METHODS, Method, MethodContext


@METHODS.register("groupdro")
class GroupDRO(Method):
    needs_bias_labels = True
    reads = frozenset({"options.groupdro_eta", "options.groupdro_balanced"})

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        train = context.splits.train
        self.group_sizes = torch.bincount(train.group_ids, minlength=train.num_groups)
        present = self.group_sizes > 0
        self.group_weights = present.double() / present.sum()

    def sample_weights(self) -> torch.Tensor | None:
        """Group-balanced sampling: every group is drawn equally often, so the small groups
        whose losses drive ``q`` appear in most batches."""
        if not self.context.config.options.groupdro_balanced:
            return None
        return 1.0 / self.group_sizes[self.context.splits.train.group_ids].double()

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(batch.images)
        losses = F.cross_entropy(logits, batch.targets, reduction="none")
        q = self.group_weights.to(losses.device)
        num_groups = q.numel()
        counts = torch.bincount(batch.groups, minlength=num_groups)
        sums = torch.zeros(num_groups, device=losses.device, dtype=losses.dtype)
        sums.index_add_(0, batch.groups, losses)
        group_loss = sums / counts.clamp_min(1)
        seen = counts > 0
        with torch.no_grad():
            eta = self.context.config.options.groupdro_eta
            q = q * torch.where(seen, (eta * group_loss.detach().double()).exp(), 1.0)
            q = q / q.sum()
            self.group_weights = q
        return (group_loss * q.to(losses.dtype)).sum(), logits

    def state_dict(self) -> dict[str, Any]:
        return {"group_weights": self.group_weights.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.group_weights = state["group_weights"]
