"""Typed, validated training configuration.

A :class:`TrainConfig` is a tree of small dataclasses (data, model, optimisation,
reweighting, method options, sparsity, run). Every field carries a ``help`` string in
its metadata; the CLI turns each field into one ``--flag`` of the same name, so a
flag always maps to a field and a field always has a flag. ``None`` defaults are
resolved from the dataset and method by :func:`resolve` and the resolved values are
what a run directory records.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.data.config import DataConfig
from rest.errors import RestError
from rest.precision import PRECISIONS
from rest.sparse.config import SparseConfig


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class ModelConfig:
    model: str | None = field(
        default=None,
        metadata=_help("network architecture (default: the dataset's, e.g. cnn for Colored MNIST)"),
    )
    width: int | None = field(
        default=None, metadata=_help("channel / hidden-unit width (default: the published one)")
    )

    def __post_init__(self) -> None:
        if self.width is not None and self.width < 1:
            raise RestError(f"--width must be a positive integer, got {self.width}")


OPTIMIZERS = ("sgd", "adam")
SCHEDULERS = ("plateau", "cosine", "none")


@dataclass
class OptimConfig:
    optimizer: str = field(default="sgd", metadata=_help("optimizer", choices=OPTIMIZERS))
    lr: float | None = field(
        default=None, metadata=_help("learning rate (default: 0.01 for cnn/mlp, 0.001 for resnet)")
    )
    momentum: float = field(default=0.9, metadata=_help("SGD momentum"))
    weight_decay: float = field(default=0.0, metadata=_help("weight decay"))
    batch_size: int = field(default=256, metadata=_help("training batch size"))
    epochs: int = field(default=100, metadata=_help("training epochs"))
    scheduler: str = field(
        default="plateau",
        metadata=_help(
            "learning-rate schedule: reduce-on-plateau of the validation loss, cosine, none",
            choices=SCHEDULERS,
        ),
    )
    plateau_factor: float = field(default=0.1, metadata=_help("reduce-on-plateau factor"))
    plateau_patience: int = field(default=5, metadata=_help("reduce-on-plateau patience (epochs)"))

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise RestError(f"unknown optimizer {self.optimizer!r}; choose one of: sgd, adam")
        if self.scheduler not in SCHEDULERS:
            raise RestError(
                f"unknown scheduler {self.scheduler!r}; choose one of: {', '.join(SCHEDULERS)}"
            )
        if self.lr is not None and self.lr <= 0:
            raise RestError(f"--lr must be positive, got {self.lr}")
        if self.batch_size < 1:
            raise RestError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.epochs < 1:
            raise RestError(f"--epochs must be at least 1, got {self.epochs}")
        if not 0 <= self.momentum < 1:
            raise RestError(f"--momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise RestError(f"--weight-decay must be >= 0, got {self.weight_decay}")


CONFLICT_SOURCES = ("labels", "jtt", "gce")
REWEIGHT_MODES = ("sampler", "loss")


@dataclass
class ReweightConfig:
    lambda_up: float | None = field(
        default=None,
        metadata=_help(
            "weight of each bias-conflicting sample, aligned ones weigh 1 (default: 10/30/50/80 "
            "for a conflicting share of 0.5/1/2/5% and above)"
        ),
    )
    reweight_by: str = field(
        default="sampler",
        metadata=_help(
            "apply weights through a weighted sampler with replacement (as published) or as "
            "per-sample loss weights",
            choices=REWEIGHT_MODES,
        ),
    )
    conflict_source: str | None = field(
        default=None,
        metadata=_help(
            "where the bias-conflicting set comes from: the bias labels, the error set of a "
            "briefly trained ERM model (jtt), or the errors of a generalized-cross-entropy "
            "biased model (gce); default: labels, or jtt for the jtt method",
            choices=CONFLICT_SOURCES,
        ),
    )
    infer_epochs: int = field(
        default=2, metadata=_help("epochs of the model that infers the conflicting set (jtt, gce)")
    )
    gce_q: float = field(
        default=0.7, metadata=_help("q of the generalized cross-entropy (gce, lff)")
    )

    def __post_init__(self) -> None:
        if self.lambda_up is not None and self.lambda_up < 1:
            raise RestError(f"--lambda-up must be at least 1, got {self.lambda_up}")
        if self.reweight_by not in REWEIGHT_MODES:
            raise RestError(f"unknown --reweight-by {self.reweight_by!r}; choose sampler or loss")
        if self.conflict_source is not None and self.conflict_source not in CONFLICT_SOURCES:
            raise RestError(
                f"unknown --conflict-source {self.conflict_source!r}; "
                f"choose one of: {', '.join(CONFLICT_SOURCES)}"
            )
        if self.infer_epochs < 1:
            raise RestError(f"--infer-epochs must be at least 1, got {self.infer_epochs}")
        if not 0 < self.gce_q <= 1:
            raise RestError(f"--gce-q must be in (0, 1], got {self.gce_q}")


@dataclass
class MethodOptions:
    groupdro_eta: float = field(
        default=0.01, metadata=_help("GroupDRO step size of the group weights")
    )
    groupdro_balanced: bool = field(
        default=True,
        metadata=_help(
            "GroupDRO draws every (y, b) group equally often (with replacement), as its "
            "authors' --reweight_groups; off: a plain shuffle"
        ),
    )
    lff_ema: float = field(
        default=0.7, metadata=_help("LfF moving-average factor of per-sample losses")
    )

    def __post_init__(self) -> None:
        if self.groupdro_eta <= 0:
            raise RestError(f"--groupdro-eta must be positive, got {self.groupdro_eta}")
        if not 0 <= self.lff_ema < 1:
            raise RestError(f"--lff-ema must be in [0, 1), got {self.lff_ema}")


DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RunConfig:
    seed: int = field(default=42, metadata=_help("training seed (published: 41, 42, 43)"))
    device: str = field(
        default="auto", metadata=_help("cpu, cuda, cuda:N, or auto (cuda when available)")
    )
    eval_batch_size: int = field(default=1024, metadata=_help("batch size for evaluation"))
    precision: str = field(
        default="fp32",
        metadata=_help(
            "arithmetic of training and evaluation: fp32; bf16 autocast (CPU and CUDA); fp16 "
            "autocast with loss scaling, skipping steps whose gradients overflow (CUDA only). "
            "Weights, optimizer state and sparse masks stay fp32 in every mode. fp32 is the "
            "default because a bf16 epoch measured 3.5x slower than fp32 on a 2-core CPU "
            "(benchmarks/results/speed-throughput.md)",
            choices=PRECISIONS,
        ),
    )
    test_every_epoch: bool = field(
        default=False,
        metadata=_help(
            "evaluate the test split after every epoch (per-epoch test curves); by default "
            "only epochs that become the selected one and the last epoch are tested"
        ),
    )
    checkpoint_every: int = field(
        default=1, metadata=_help("save the resumable last checkpoint every N epochs")
    )

    def __post_init__(self) -> None:
        if not (self.device in DEVICES or self.device.startswith("cuda:")):
            raise RestError(f"unknown --device {self.device!r}; use auto, cpu, cuda or cuda:N")
        if self.eval_batch_size < 1:
            raise RestError("--eval-batch-size must be at least 1")
        if self.precision not in PRECISIONS:
            raise RestError(
                f"unknown --precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}"
            )
        if self.checkpoint_every < 1:
            raise RestError("--checkpoint-every must be at least 1")


@dataclass
class TrainConfig:
    """Everything one training run depends on."""

    method: str = field(default="rest", metadata=_help("training method"))
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    reweight: ReweightConfig = field(default_factory=ReweightConfig)
    options: MethodOptions = field(default_factory=MethodOptions)
    sparse: SparseConfig = field(default_factory=SparseConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a nested dict (as written to ``config.json``); unknown keys are errors."""
        return _build(cls, values, "")

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            raise RestError(f"config file {path} does not exist") from None
        except (OSError, json.JSONDecodeError) as error:
            raise RestError(f"config file {path} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise RestError(f"config file {path} must hold a JSON object")
        return cls.from_dict(values)


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        where = f" in section {prefix.rstrip('.')!r}" if prefix else ""
        raise RestError(
            f"unknown config key {unknown[0]!r}{where}; valid keys: {', '.join(sorted(known))}"
        )
    types = field_types(cls)
    kwargs = {}
    for name, value in values.items():
        kind = types[name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise RestError(f"config section {prefix}{name!r} must be an object")
            kwargs[name] = _build(kind, value, f"{prefix}{name}.")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def replace(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy with dotted-path fields changed, e.g. ``replace(c, **{"sparse.density": 0.1})``."""
    values = config.to_dict()
    for dotted, value in changes.items():
        section, _, name = dotted.rpartition(".")
        target = values
        for part in filter(None, section.split(".")):
            target = target[part]
        if name not in target:
            raise RestError(f"unknown config field {dotted!r}")
        target[name] = value
    return TrainConfig.from_dict(values)
