"""Generalized cross-entropy (Zhang & Sabuncu, 2018), the loss of LfF's biased model.

``GCE = (1 - p_y ** q) / q``: its gradient is the cross-entropy gradient scaled by
``p_y ** q``, so samples the model already finds easy (the bias-aligned ones) pull
hardest and the model amplifies the shortcut -- which is what makes its errors a
good guess of the bias-conflicting set.
"""

from __future__ import annotations

import torch


def generalized_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, q: float = 0.7, reduction: str = "mean"
) -> torch.Tensor:
    target_prob = logits.float().softmax(1).gather(1, targets[:, None]).squeeze(1)
    losses = (1 - target_prob.clamp_min(1e-8) ** q) / q
    if reduction == "none":
        return losses
    return losses.mean()
