"""Small models and a training-step driver shared by the sparse tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rest.models import build_model
from rest.sparse import SparseConfig, SparseTraining

# name -> (registry name, width, input shape); widths small enough for a fast CPU test.
MODELS = {
    "cnn": ("cnn", 8, (3, 28, 28)),
    "resnet18": ("resnet18", 4, (3, 16, 16)),
    "mlp": ("mlp", 32, (3, 28, 28)),
}


def small_model(name: str, seed: int = 0) -> nn.Module:
    registry_name, width, shape = MODELS[name]
    torch.manual_seed(seed)
    return build_model(registry_name, 10, shape, width)


def batch(name: str, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = MODELS[name][2]
    return torch.rand(size, *shape, generator=generator), torch.randint(
        0, 10, (size,), generator=generator
    )


def tiny_net() -> nn.Sequential:
    """conv 2->4 3x3, conv 4->8 3x3, global pool, linear 8->3 (hand-computable)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )


def make_optimizer(name: str, model: nn.Module) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True
        )
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.05)
    raise ValueError(name)


def train_step(
    model: nn.Module,
    sparse: SparseTraining,
    optimizer: torch.optim.Optimizer,
    data: tuple[torch.Tensor, torch.Tensor],
    step: int,
) -> None:
    """One step in the engine's order."""
    optimizer.zero_grad()
    F.cross_entropy(model(data[0]), data[1]).backward()
    sparse.before_optimizer_step(step)
    optimizer.step()
    sparse.after_optimizer_step(step)


def sparse_setup(
    model_name: str, optimizer_name: str = "sgd", total_steps: int = 12, seed: int = 0, **config
) -> tuple[nn.Module, SparseTraining, torch.optim.Optimizer]:
    model = small_model(model_name)
    sparse = SparseTraining(model, SparseConfig(**config), total_steps=total_steps, seed=seed)
    optimizer = make_optimizer(optimizer_name, model)
    sparse.attach(optimizer)
    return model, sparse, optimizer


def update_now(sparse: SparseTraining, step: int) -> None:
    """A mask update at ``step`` with the current ``.grad``, no optimizer step between."""
    sparse.before_optimizer_step(step)
    sparse.after_optimizer_step(step)
