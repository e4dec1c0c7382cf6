"""Optimizers and learning-rate schedules named in the config."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from rest.config import OptimConfig


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter], config: OptimConfig
) -> torch.optim.Optimizer:
    assert config.lr is not None, "resolve() sets the learning rate"
    assert config.optimizer is not None, "resolve() sets the optimizer"
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


class Schedule:
    """Per-epoch learning-rate schedule: reduce-on-plateau of a monitored loss, cosine, or none."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: OptimConfig) -> None:
        self.kind = config.scheduler
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None
        self.plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        self.scheduler = None
        if self.kind == "plateau":
            self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=config.plateau_factor, patience=config.plateau_patience
            )
        elif self.kind == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=config.epochs
            )
        self.optimizer = optimizer

    def step(self, monitored_loss: float) -> None:
        """Called once at the end of each epoch with the validation (or training) loss."""
        if self.plateau is not None:
            self.plateau.step(monitored_loss)
        elif self.scheduler is not None:
            self.scheduler.step()

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict:
        active = self.plateau or self.scheduler
        return active.state_dict() if active is not None else {}

    def load_state_dict(self, state: dict) -> None:
        active = self.plateau or self.scheduler
        if active is not None:
            active.load_state_dict(state)
