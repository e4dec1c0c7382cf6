"""Assemble one run: model, method, optimizer, schedule, sampler and sparse engine.

:func:`build_training` is shared by :func:`rest.engine.fit` and the benchmarks, so
what a benchmark times is exactly what a run trains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rest.config import TrainConfig
from rest.data.dataset import BiasedSplits
from rest.loader import BatchLoader
from rest.methods import METHODS, Method, MethodContext
from rest.models import build_model
from rest.optim import Schedule, build_optimizer
from rest.sparse import SparseTraining
from rest.trainer import Trainer


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)


@dataclass
class Training:
    """Everything one run trains with, built by :func:`build_training`."""

    model: nn.Module
    method: Method
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    sparse: SparseTraining | None
    trainer: Trainer
    generator: torch.Generator  # the sampler's: part of the resumable state
    preparation: dict[str, Any]  # the method's report from prepare() ({} when restored)


def build_training(
    config: TrainConfig,
    splits: BiasedSplits,
    device: torch.device,
    show_progress: bool = False,
    say: Callable[[str], None] = lambda line: None,
    method_state: dict[str, Any] | None = None,
) -> Training:
    """Model, method, optimizer, schedule, sampler and sparse engine of a resolved config.

    The method prepares (e.g. infers its conflicting set) unless ``method_state``
    restores it, since sample weights must exist before the sampler is built.
    """
    _seed_everything(config.run.seed)
    train = splits.train
    input_shape = train.image_shape
    assert config.model.model is not None, "resolve() sets the model"
    model_name = config.model.model

    def new_model() -> nn.Module:
        return build_model(model_name, train.num_classes, input_shape, config.model.width).to(
            device
        )

    model = new_model()
    augment = str(splits.info.get("augment", "none"))

    def train_auxiliary(method: Method, epochs: int, description: str) -> nn.Module:
        aux_model = new_model()
        aux_loader = BatchLoader(
            train,
            config.optim.batch_size,
            device,
            torch.Generator().manual_seed(config.run.seed + 1),
            augment=augment,
        )
        aux_trainer = Trainer(
            aux_model,
            method,
            build_optimizer(aux_model.parameters(), config.optim),
            aux_loader,
            show_progress=show_progress,
            precision=config.run.precision,
        )
        for epoch in range(epochs):
            stats = aux_trainer.train_epoch(f"{description} {epoch + 1}/{epochs}")
            say(f"{description}: epoch {epoch + 1}/{epochs} loss {stats['loss']:.4f}")
        return aux_model

    context = MethodContext(
        config=config,
        splits=splits,
        device=device,
        build_model=new_model,
        train_auxiliary=train_auxiliary,
    )
    method = METHODS.get(config.method)(context)
    optimizer = build_optimizer(model.parameters(), config.optim)
    preparation: dict[str, Any] = {}
    if method_state is None:
        preparation = method.prepare()
    else:
        method.load_state_dict(method_state)
    generator = torch.Generator().manual_seed(config.run.seed)
    loader = BatchLoader(
        train,
        config.optim.batch_size,
        device,
        generator,
        sample_weights=method.sample_weights(),
        augment=augment,
    )
    sparse: SparseTraining | None = None
    if method.sparse and config.sparse.density < 1:
        total_steps = config.optim.epochs * len(loader)
        sparse = SparseTraining(model, config.sparse, total_steps=total_steps, seed=config.run.seed)
        sparse.attach(optimizer)
        if method_state is None:
            # SNIP/GraSP score the loss this method trains with (weighted with --reweight-by loss)
            sparse.initialize_from_data(loader, lambda forward, b: method.loss(forward, b)[0])
    trainer = Trainer(model, method, optimizer, loader, sparse, show_progress, config.run.precision)
    return Training(
        model=model,
        method=method,
        optimizer=optimizer,
        schedule=Schedule(optimizer, config.optim),
        sparse=sparse,
        trainer=trainer,
        generator=generator,
        preparation=preparation,
    )
