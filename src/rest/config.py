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
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rest.data.config import DataConfig
from rest.errors import RestError
from rest.precision import PRECISIONS
from rest.sparse.config import SparseConfig
from rest.validation import FRACTION, NON_NEGATIVE, POSITIVE, SEED, at_least, between, check_fields


def _help(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the flag's help text, plus ``choices`` or a numeric ``range``
    (checked by :func:`rest.validation.check_fields`)."""
    return {"help": text, **extra}


@dataclass
class ModelConfig:
    SECTION: ClassVar[str] = "model"

    model: str | None = field(
        default=None,
        metadata=_help("network architecture (default: the dataset's, e.g. cnn for Colored MNIST)"),
    )
    width: int | None = field(
        default=None,
        metadata=_help(
            "channel / hidden-unit width (default: the published one)", range=between(1, 4096)
        ),
    )

    def __post_init__(self) -> None:
        check_fields(self)


OPTIMIZERS = ("sgd", "adam")
SCHEDULERS = ("plateau", "cosine", "none")


@dataclass
class OptimConfig:
    SECTION: ClassVar[str] = "optim"

    optimizer: str | None = field(
        default=None,
        metadata=_help(
            "optimizer (default: the method's published one: adam for lff, sgd otherwise)",
            choices=OPTIMIZERS,
        ),
    )
    lr: float | None = field(
        default=None,
        metadata=_help(
            "learning rate (default: 0.001 for lff with adam, as published; otherwise 0.01 "
            "for cnn/mlp, 0.001 for resnet)",
            range=POSITIVE,
        ),
    )
    momentum: float = field(
        default=0.9, metadata=_help("SGD momentum", range=between(0, 1, high_open=True))
    )
    weight_decay: float = field(default=0.0, metadata=_help("weight decay", range=NON_NEGATIVE))
    batch_size: int = field(default=256, metadata=_help("training batch size", range=POSITIVE))
    epochs: int = field(default=100, metadata=_help("training epochs", range=POSITIVE))
    scheduler: str = field(
        default="plateau",
        metadata=_help(
            "learning-rate schedule: reduce-on-plateau of the validation loss, cosine, none",
            choices=SCHEDULERS,
        ),
    )
    plateau_factor: float = field(
        default=0.1,
        metadata=_help(
            "reduce-on-plateau factor", range=between(0, 1, low_open=True, high_open=True)
        ),
    )
    plateau_patience: int = field(
        default=5, metadata=_help("reduce-on-plateau patience (epochs)", range=NON_NEGATIVE)
    )

    def __post_init__(self) -> None:
        check_fields(self)


CONFLICT_SOURCES = ("labels", "jtt", "gce")
REWEIGHT_MODES = ("sampler", "loss")


@dataclass
class ReweightConfig:
    SECTION: ClassVar[str] = "reweight"

    lambda_up: float | None = field(
        default=None,
        metadata=_help(
            "weight of each bias-conflicting sample, aligned ones weigh 1 (default: 10/30/50/80 "
            "for a conflicting share of 0.5/1/2/5% and above)",
            range=at_least(1),
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
        default=2,
        metadata=_help(
            "epochs of the model that infers the conflicting set (jtt, gce)", range=POSITIVE
        ),
    )
    gce_q: float = field(
        default=0.7, metadata=_help("q of the generalized cross-entropy (gce, lff)", range=FRACTION)
    )

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class MethodOptions:
    SECTION: ClassVar[str] = "options"

    groupdro_eta: float = field(
        default=0.01, metadata=_help("GroupDRO step size of the group weights", range=POSITIVE)
    )
    groupdro_balanced: bool = field(
        default=True,
        metadata=_help(
            "GroupDRO draws every (y, b) group equally often (with replacement), as its "
            "authors' --reweight_groups; off: a plain shuffle"
        ),
    )
    lff_ema: float = field(
        default=0.7,
        metadata=_help(
            "LfF moving-average factor of per-sample losses", range=between(0, 1, high_open=True)
        ),
    )

    def __post_init__(self) -> None:
        check_fields(self)


DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RunConfig:
    SECTION: ClassVar[str] = "run"

    seed: int = field(
        default=42, metadata=_help("training seed (published: 41, 42, 43)", range=SEED)
    )
    device: str = field(
        default="auto", metadata=_help("cpu, cuda, cuda:N, or auto (cuda when available)")
    )
    eval_batch_size: int = field(
        default=1024, metadata=_help("batch size for evaluation", range=POSITIVE)
    )
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
        default=1,
        metadata=_help("save the resumable last checkpoint every N epochs", range=POSITIVE),
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if not (self.device in DEVICES or re.fullmatch(r"cuda:\d+", self.device)):
            raise RestError(f"unknown --device {self.device!r}; use auto, cpu, cuda or cuda:N")


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

    def __post_init__(self) -> None:
        check_fields(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a nested dict (as written to ``config.json``); unknown keys are errors."""
        return _build(cls, values, "")

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if path.is_dir():
            raise RestError(f"config file {path} is a directory; give a JSON file")
        try:
            values = json.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise RestError(f"config file {path} does not exist") from None
        except UnicodeDecodeError as error:
            raise RestError(
                f"config file {path} is not UTF-8 text (byte {error.object[error.start]:#04x} "
                f"at offset {error.start}); save it as UTF-8 JSON"
            ) from None
        except OSError as error:
            raise RestError(f"cannot read config file {path}: {error.strerror}") from None
        except json.JSONDecodeError as error:
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
