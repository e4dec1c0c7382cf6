"""The Python API; the CLI is a thin layer over these functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from rest.config import TrainConfig
from rest.data import load_dataset
from rest.data.config import DataConfig
from rest.engine import CHECKPOINT_FORMAT, fit
from rest.errors import RestError
from rest.metrics import evaluate as evaluate_split
from rest.models import build_model
from rest.sparse import load_compact
from rest.trainer import resolve_device


def _as_config(config: TrainConfig | dict[str, Any] | str | Path) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return TrainConfig.from_dict(config)
    return TrainConfig.from_file(config)


def train(
    config: TrainConfig | dict[str, Any] | str | Path,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one run and return its summary.

    ``config`` is a :class:`TrainConfig`, a nested dict, or a JSON file. With ``out``
    the run directory keeps the resolved config, per-epoch metrics, checkpoints and
    the summary; ``resume=True`` continues a run that was interrupted, and a finished
    run returns its summary without training again.
    """
    config = _as_config(config)
    return fit(config, load_dataset(config.data), out, resume=resume, show_progress=progress)


def load(checkpoint: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The model stored in a compact checkpoint (sparse weights restored) and its metadata."""
    state, _masks, metadata = load_compact(checkpoint)
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise RestError(f"{checkpoint} is not a rest model checkpoint (no {CHECKPOINT_FORMAT} tag)")
    shape = tuple(metadata["input_shape"])
    model = build_model(metadata["model"], metadata["num_classes"], shape, metadata["width"])
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise RestError(f"{checkpoint} does not fit model {metadata['model']!r}: {first}") from None
    return model.to(resolve_device(device)), metadata


def evaluate(
    checkpoint: str | Path,
    data: str | DataConfig | None = None,
    device: str = "auto",
    batch_size: int = 1024,
) -> dict[str, Any]:
    """Group metrics of a checkpoint on every split of ``data``.

    ``data`` is a dataset name or path (the conflict ratio and generator settings of
    the training run are kept), a :class:`DataConfig`, or None for the training data.
    """
    model, metadata = load(checkpoint, device)
    trained_on = DataConfig(**metadata["config"]["data"])
    if data is None:
        data_config = trained_on
    elif isinstance(data, DataConfig):
        data_config = data
    else:
        values = {**metadata["config"]["data"], "dataset": str(data), "layout": "auto"}
        data_config = DataConfig(**values)
    splits = load_dataset(data_config)
    shape = list(splits.train.image_shape)
    if shape != metadata["input_shape"] or splits.train.num_classes != metadata["num_classes"]:
        raise RestError(
            f"{checkpoint} expects {metadata['num_classes']} classes of "
            f"{'x'.join(map(str, metadata['input_shape']))} images, but {data_config.dataset} has "
            f"{splits.train.num_classes} classes of {'x'.join(map(str, shape))} images"
        )
    target = next(model.parameters()).device
    results: dict[str, Any] = {"checkpoint": str(checkpoint), "dataset": splits.name}
    for name, split in splits.splits().items():
        results[name] = evaluate_split(model, split, torch.device(target), batch_size)
    return results
