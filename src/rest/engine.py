"""The run around the training loop: resolve, build, train, select, resume.

:func:`fit` resolves the config, builds model, method, optimizer, schedule and
sparse engine (:func:`rest.build.build_training`), trains for the configured
epochs with :class:`rest.trainer.Trainer`, selects the epoch on validation only,
and keeps the run directory resumable throughout.

Validation is evaluated every epoch (it drives selection and the learning-rate
schedule). Test is evaluated only where a summary reads it -- at an epoch that
becomes the selected one and at the last epoch -- unless ``run.test_every_epoch``
asks for per-epoch test curves; the selected and last test metrics are the same
either way.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from rest.build import build_training
from rest.config import TrainConfig
from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.metrics import evaluate, selection_metric
from rest.resolve import resolve
from rest.runs import RunDirectory, RunLock
from rest.sparse import save_compact
from rest.summary import build_summary
from rest.trainer import resolve_device

CHECKPOINT_FORMAT = "rest-checkpoint-1"


@dataclass
class _Selection:
    """The best validation epoch so far (1-based; 0 = none yet)."""

    epoch: int = 0
    score: tuple[float, float] = (-math.inf, -math.inf)


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


def fit(
    config: TrainConfig,
    splits: BiasedSplits,
    out: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train one run on ``splits`` and return its summary (also written to ``out``).

    The run directory stays locked (:class:`rest.runs.RunLock`) while this process
    trains in it, so a second trainer is refused instead of writing beside it.
    Whatever stops a run once its directory is open (divergence, Ctrl-C, a crash) is
    the last line of its ``log.txt``; a run refused before it began leaves no
    directory. ``on_epoch(record)`` sees each epoch's metrics once that epoch is saved
    (metrics, checkpoints, resume state), so an exception it raises -- a tuner pruning
    a hopeless trial -- stops training and leaves the run resumable, without a summary.
    """
    if out is None:
        return _fit(config, splits, None, resume, show_progress, on_epoch, False)
    run = RunDirectory(out)
    fresh_directory = not run.path.exists()  # taking the lock creates it
    try:
        with RunLock(out):
            return _fit(config, splits, run, resume, show_progress, on_epoch, fresh_directory)
    except BaseException as error:
        if run.opened and run.path.is_dir():
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
            with contextlib.suppress(OSError):  # a full disk must not hide the real error
                run.log(f"stopped: {reason or type(error).__name__}")
        elif isinstance(error, RestError) and fresh_directory and not run.started:
            shutil.rmtree(run.path, ignore_errors=True)  # refused before it began
        raise


def _fit(
    config: TrainConfig,
    splits: BiasedSplits,
    run: RunDirectory | None,
    resume: bool,
    show_progress: bool,
    on_epoch: Callable[[dict[str, Any]], None] | None,
    fresh_directory: bool,
) -> dict[str, Any]:
    config = resolve(config, splits)
    device = resolve_device(config.run.device)
    if run is not None and run.finished:
        run.start(config.to_dict(), resume=True)  # checks the settings match
        return run.read_summary()
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
        trainer.gradients.load_state_dict(state.get("gradient_scaler", {}))
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
        evaluation_started = time.perf_counter()

        def evaluated_on(split: str) -> dict[str, Any]:
            data = getattr(splits, split)
            return evaluate(model, data, device, config.run.eval_batch_size, config.run.precision)

        evaluated: dict[str, Any] = {}
        if splits.valid is not None:
            evaluated["valid"] = evaluated_on("valid")
        monitored = evaluated["valid"]["loss"] if "valid" in evaluated else train_stats["loss"]
        schedule.step(float(monitored))  # type: ignore[arg-type]
        improved = False
        if "valid" in evaluated:
            valid = evaluated["valid"]
            score = (float(valid[metric_name]), float(valid["accuracy"]))  # type: ignore[arg-type]
            improved = score > selection.score
        if improved or "valid" not in evaluated:
            selection = _Selection(number, score if "valid" in evaluated else selection.score)
        last_epoch = number == config.optim.epochs
        # Without a validation split the selected epoch is the last one.
        if config.run.test_every_epoch or last_epoch or improved:
            evaluated["test"] = evaluated_on("test")
        record: dict[str, Any] = {
            "epoch": number,
            "lr": lr,
            "seconds": train_stats.pop("seconds"),
            "eval_seconds": time.perf_counter() - evaluation_started,
            "train": train_stats,
            **evaluated,
        }
        if sparse is not None:
            stats = sparse.stats()
            record["sparse"] = {
                k: stats[k] for k in ("updates_done", "exploration_rate") if k in stats
            }
        say(_epoch_line(record, config.optim.epochs, metric_name))
        records.append(record)
        if run is None:
            if on_epoch is not None:
                on_epoch(record)
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
                    "gradient_scaler": trainer.gradients.state_dict(),
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
        if on_epoch is not None:
            on_epoch(record)

    summary = build_summary(
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
