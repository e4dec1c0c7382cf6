"""The one training loop, and the run around it.

:class:`Trainer` is the loop every model in ``rest`` is trained with -- the main
model of any method, and the throwaway models that infer a conflicting set. Per
batch: the method turns the batch into a loss, the engine back-propagates, the
sparse engine (when the method is sparse) sees the gradients before and the
weights after the optimizer step.

:func:`fit` is the run around it: resolve the config, build model, method,
optimizer, schedule and sparse engine, train for the configured epochs while
evaluating every split each epoch, select the epoch on validation only, and keep
the run directory resumable throughout.
"""

from __future__ import annotations

import math
import resource
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from rest.config import TrainConfig
from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.loader import BatchLoader
from rest.methods import METHODS, Method, MethodContext
from rest.metrics import evaluate, selection_metric
from rest.models import build_model
from rest.optim import Schedule, build_optimizer
from rest.resolve import resolve
from rest.runs import RunDirectory
from rest.sparse import (
    SparseTraining,
    inference_flops,
    model_size,
    save_compact,
    training_flops,
)

CHECKPOINT_FORMAT = "rest-checkpoint-1"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RestError(f"--device {name} was asked for but no CUDA GPU is available; use cpu")
    return torch.device(name)


class Trainer:
    """Trains ``model`` one epoch at a time with ``method``'s loss."""

    def __init__(
        self,
        model: nn.Module,
        method: Method,
        optimizer: torch.optim.Optimizer,
        loader: BatchLoader,
        sparse: SparseTraining | None = None,
        show_progress: bool = True,
    ) -> None:
        self.model = model
        self.method = method
        self.optimizer = optimizer
        self.loader = loader
        self.sparse = sparse
        self.show_progress = show_progress
        self.step = 0

    def train_epoch(self, description: str) -> dict[str, float]:
        self.model.train()
        device = self.loader.device
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        started = time.perf_counter()
        bar = tqdm(
            self.loader,
            desc=description,
            leave=False,
            disable=not self.show_progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        for batch_number, batch in enumerate(bar):
            loss, logits = self.method.loss(self.model, batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.sparse is not None:
                self.sparse.before_optimizer_step(self.step)
            self.optimizer.step()
            if self.sparse is not None:
                self.sparse.after_optimizer_step(self.step)
            self.step += 1
            loss_sum += loss.detach() * len(batch)
            correct += (logits.detach().argmax(1) == batch.targets).sum()
            seen += len(batch)
            if self.show_progress and batch_number % 10 == 0:
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.3f}", acc=f"{correct.item() / seen:.3f}"
                )
        mean_loss = loss_sum.item() / max(seen, 1)
        if not math.isfinite(mean_loss):
            raise RestError(f"training diverged ({description}: loss {mean_loss}); lower --lr")
        return {
            "loss": mean_loss,
            "accuracy": correct.item() / max(seen, 1),
            "seconds": time.perf_counter() - started,
        }


@dataclass
class _Selection:
    """The best validation epoch so far (1-based; 0 = none yet)."""

    epoch: int = 0
    score: tuple[float, float] = (-math.inf, -math.inf)


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)


def _process_peak_rss_mb() -> float:
    """Peak resident memory of this process.

    Linux's ``VmHWM`` starts afresh in a process a sweep spawns, whereas ``ru_maxrss``
    carries the parent's peak across the exec; ``ru_maxrss`` is the fallback elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_memory_mb(device: torch.device) -> dict[str, float]:
    peak = {"process_max_rss_mb": _process_peak_rss_mb()}
    if device.type == "cuda":
        peak["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return peak


def _checkpoint_metadata(
    config: TrainConfig, splits: BiasedSplits, epoch: int, metrics: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "model": config.model.model,
        "width": config.model.width,
        "num_classes": splits.train.num_classes,
        "input_shape": list(splits.train.image_shape),
        "method": config.method,
        "density": config.sparse.density,
        "dataset": splits.name,
        "epoch": epoch,
        "metrics": metrics,
        "config": config.to_dict(),
    }


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
            sparse.initialize_from_data(
                ((b.images, b.targets) for b in loader), torch.nn.functional.cross_entropy
            )
    trainer = Trainer(model, method, optimizer, loader, sparse, show_progress)
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


def fit(
    config: TrainConfig,
    splits: BiasedSplits,
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train one run on ``splits`` and return its summary (also written to ``out``)."""
    config = resolve(config, splits)
    device = resolve_device(config.run.device)
    run = RunDirectory(out) if out is not None else None
    if run is not None and run.finished:
        run.start(config.to_dict(), resume=True)  # checks the settings match
        return run.read_summary()
    fresh_directory = run is not None and not run.path.exists()
    has_state = run.start(config.to_dict(), resume) if run is not None else False

    def say(line: str) -> None:
        if show_progress:
            tqdm.write(line, file=sys.stderr)
        if run is not None:
            run.log(line)

    state: dict[str, Any] | None = run.load_resume_state() if has_state and run else None
    try:
        training = build_training(
            config,
            splits,
            device,
            show_progress=show_progress,
            say=say,
            method_state=state["method"] if state is not None else None,
        )
    except RestError:
        if fresh_directory and run is not None:  # a run that never started leaves nothing
            shutil.rmtree(run.path, ignore_errors=True)
        raise
    model, method, optimizer, schedule = (
        training.model,
        training.method,
        training.optimizer,
        training.schedule,
    )
    sparse, trainer, generator = training.sparse, training.trainer, training.generator
    preparation = training.preparation if state is None else state["preparation"]

    selection = _Selection()
    start_epoch = 0
    if state is not None:
        assert run is not None
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        if sparse is not None:
            sparse.load_state_dict(state["sparse"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        trainer.step = state["step"]
        start_epoch = state["epoch"]
        selection = _Selection(state["best_epoch"], tuple(state["best_score"]))
        run.keep_metrics_until(start_epoch)
        say(f"resuming {run.path} after epoch {start_epoch}")
    elif run is not None:
        run.keep_metrics_until(0)
    records = run.read_metrics() if run is not None else []

    metric_name = selection_metric(splits.valid)
    masks = sparse.masks if sparse is not None else None
    for epoch in range(start_epoch, config.optim.epochs):
        number = epoch + 1
        lr = schedule.lr
        train_stats = trainer.train_epoch(f"epoch {number}/{config.optim.epochs}")
        evaluated = {
            name: evaluate(model, data, device, config.run.eval_batch_size)
            for name, data in splits.splits().items()
            if name != "train"
        }
        monitored = evaluated["valid"]["loss"] if "valid" in evaluated else train_stats["loss"]
        schedule.step(float(monitored))  # type: ignore[arg-type]
        record: dict[str, Any] = {
            "epoch": number,
            "lr": lr,
            "seconds": train_stats.pop("seconds"),
            "train": train_stats,
            **evaluated,
        }
        if sparse is not None:
            stats = sparse.stats()
            record["sparse"] = {
                k: stats[k] for k in ("updates_done", "exploration_rate") if k in stats
            }
        improved = False
        if "valid" in evaluated:
            valid = evaluated["valid"]
            score = (float(valid[metric_name]), float(valid["accuracy"]))  # type: ignore[arg-type]
            improved = score > selection.score
        if improved or "valid" not in evaluated:
            selection = _Selection(number, score if "valid" in evaluated else selection.score)
        say(_epoch_line(record, config.optim.epochs, metric_name))
        records.append(record)
        if run is None:
            continue
        run.append_metrics(record)
        metadata = _checkpoint_metadata(config, splits, number, evaluated)
        if improved:
            save_compact(run.best_checkpoint, model.state_dict(), masks or {}, metadata)
        if number % config.run.checkpoint_every == 0 or number == config.optim.epochs:
            save_compact(run.last_checkpoint, model.state_dict(), masks or {}, metadata)
            run.save_state(
                run.resume_state,
                {
                    "epoch": number,
                    "step": trainer.step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "sparse": sparse.state_dict() if sparse is not None else {},
                    "method": method.state_dict(),
                    "preparation": preparation,
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "best_epoch": selection.epoch,
                    "best_score": list(selection.score),
                },
            )

    summary = _summary(
        config, splits, model, sparse, preparation, records, selection.epoch, metric_name, device
    )
    if run is not None:
        run.write_summary(summary)
    return summary


def _epoch_line(record: dict[str, Any], epochs: int, metric_name: str) -> str:
    parts = [
        f"epoch {record['epoch']}/{epochs}",
        f"loss {record['train']['loss']:.4f}",
        f"train acc {record['train']['accuracy']:.3f}",
    ]
    for split in ("valid", "test"):
        metrics = record.get(split)
        if metrics is None:
            continue
        if "conflicting" in metrics and metrics["conflicting"] is not None:
            parts.append(
                f"{split} acc {metrics['accuracy']:.3f} conflicting {metrics['conflicting']:.3f} "
                f"worst {metrics['worst_group']:.3f}"
            )
        else:
            parts.append(f"{split} acc {metrics['accuracy']:.3f}")
    parts.append(f"{record['seconds']:.1f}s")
    return "  ".join(parts)


def _summary(
    config: TrainConfig,
    splits: BiasedSplits,
    model: nn.Module,
    sparse: SparseTraining | None,
    preparation: dict[str, Any],
    records: list[dict[str, Any]],
    selected_epoch: int,
    metric_name: str,
    device: torch.device,
) -> dict[str, Any]:
    masks = sparse.masks if sparse is not None else None
    input_shape = splits.train.image_shape
    inference = inference_flops(model, input_shape, masks)
    steps_per_epoch = math.ceil(len(splits.train) / config.optim.batch_size)
    training = training_flops(
        model,
        input_shape,
        masks=masks,
        steps=steps_per_epoch * config.optim.epochs,
        batch_size=config.optim.batch_size,
        dense_gradient_updates=(
            sparse.stats()["dense_gradient_updates"] if sparse is not None else 0
        ),
    )
    by_epoch = {r["epoch"]: r for r in records}
    last = records[-1] if records else None
    selected = by_epoch.get(selected_epoch, last)
    seconds = [r["seconds"] for r in records]

    def split_metrics(record: dict[str, Any] | None) -> dict[str, Any] | None:
        if record is None:
            return None
        return {k: record[k] for k in ("epoch", "valid", "test") if k in record}

    return {
        "status": "done",
        "method": config.method,
        "dataset": splits.name,
        "conflict_pct": splits.info.get("conflict_pct"),
        "model": config.model.model,
        "density": config.sparse.density,
        "seed": config.run.seed,
        "epochs": config.optim.epochs,
        "selection": {
            "metric": f"valid {metric_name}" if splits.valid is not None else "last epoch",
            "epoch": selected["epoch"] if selected else None,
        },
        "selected": split_metrics(selected),
        "last": split_metrics(last),
        "size": model_size(model, masks),
        "flops": {"inference": inference, "training": training},
        "sparse": sparse.stats() if sparse is not None else None,
        "reweight": preparation or None,
        "time": {
            "total_seconds": sum(seconds),
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
            **_peak_memory_mb(device),
        },
        "device": str(device),
        "config": config.to_dict(),
    }
