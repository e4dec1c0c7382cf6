"""The summary of a finished run: selected and last metrics, size, FLOPs, time, memory."""

from __future__ import annotations

import math
import resource
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rest.config import TrainConfig
from rest.data.dataset import BiasedSplits
from rest.methods import METHODS
from rest.sparse import SparseTraining, inference_flops, model_size, training_flops


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


def build_summary(
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
    # every epoch trains on len(train) samples (a permutation, or as many weighted draws),
    # so the partial last batch counts at its real size
    train_size = len(splits.train)
    epochs_trained = len(records)
    sparse_stats = sparse.stats() if sparse is not None else {}
    other_models = METHODS.get(config.method).auxiliary_training(config, train_size, epochs_trained)
    # SNIP/GraSP score the dense network on a few batches; a backward pass costs two
    # forward passes (the RigL accounting)
    scoring = sparse_stats.get("scoring_forward_samples", 0) + 2 * sparse_stats.get(
        "scoring_backward_samples", 0
    )
    if scoring:
        other_models["mask_scoring"] = scoring
    training = training_flops(
        model,
        input_shape,
        masks=masks,
        steps=math.ceil(train_size / config.optim.batch_size) * epochs_trained,
        batch_size=config.optim.batch_size,
        samples=train_size * epochs_trained,
        dense_gradient_updates=sparse_stats.get("dense_gradient_updates", 0),
        other_models=other_models,
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
