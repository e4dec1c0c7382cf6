"""Fill the config's ``None`` defaults from the dataset and method, and check combinations.

What a run records in its ``config.json`` is the resolved config, so a run
directory says exactly which model, learning rate and density were used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from rest.config import TrainConfig, replace
from rest.data.dataset import BiasedSplits
from rest.errors import RestError
from rest.methods import METHODS
from rest.models import MODELS
from rest.sparse.config import SparseConfig
from rest.sparse.strategies import STRATEGIES

# Published learning rates (DESIGN.md 1.3): 0.01 for the Colored-MNIST CNN, 0.001 for
# ResNet-18 on Corrupted CIFAR-10 and BFFHQ.
DEFAULT_LR = {"cnn": 0.01, "mlp": 0.01, "resnet18": 0.001, "resnet18-cifar": 0.001}
FALLBACK_LR = 0.001


def _readers(field: str) -> tuple[list[str], list[str]]:
    """(methods, sparse strategies) that declare they read ``field``."""
    methods = [name for name in METHODS.names() if field in METHODS.get(name).reads]
    strategies = [name for name in STRATEGIES.names() if field in STRATEGIES.get(name).reads]
    return methods, strategies


def _field_value(config: TrainConfig, field: str) -> Any:
    section, name = field.split(".")
    return getattr(getattr(config, section), name)


def declared_fields() -> list[str]:
    """Every config field some method or sparse strategy declares it reads."""
    fields = {f for name in METHODS.names() for f in METHODS.get(name).reads}
    fields |= {f for name in STRATEGIES.names() for f in STRATEGIES.get(name).reads}
    return sorted(fields)


def unread_fields(method: str, strategy: str) -> list[str]:
    """The declared fields that ``method`` (with ``strategy`` when it is sparse) ignores."""
    kind = METHODS.get(method)
    reads = set(kind.reads)
    if kind.sparse:
        reads |= STRATEGIES.get(strategy).reads
    else:  # a dense method has no strategy; its sparse section is checked as a whole
        reads |= {f for f in declared_fields() if f.startswith("sparse.")}
    return [field for field in declared_fields() if field not in reads]


def check_fields_read(config: TrainConfig, given: Iterable[str]) -> None:
    """Refuse a field in ``given`` (``"section.name"``) that the config's method, or its
    sparse strategy, does not read: such a setting would silently do nothing."""
    unread = set(unread_fields(config.method, config.sparse.strategy))
    for field in sorted(set(given) & unread):
        flag = "--" + field.split(".")[1].replace("_", "-")
        methods, strategies = _readers(field)
        if field.startswith("sparse."):
            raise RestError(
                f"sparse strategy {config.sparse.strategy!r} does not read {flag}; "
                f"it applies to the strategies {', '.join(strategies)}"
            )
        raise RestError(
            f"method {config.method!r} does not read {flag}; it applies to the methods "
            f"{', '.join(methods)}"
        )


def changed_fields(config: TrainConfig) -> list[str]:
    """The declared fields whose value differs from the default."""
    default = TrainConfig()
    return [f for f in declared_fields() if _field_value(config, f) != _field_value(default, f)]


def resolve(config: TrainConfig, splits: BiasedSplits) -> TrainConfig:
    """The config with every default that depends on data or method made explicit."""
    method = METHODS.get(config.method)
    model = config.model.model or str(splits.info.get("model", "resnet18"))
    MODELS.get(model)
    changes: dict[str, object] = {"model.model": model}
    if config.optim.lr is None:
        changes["optim.lr"] = DEFAULT_LR.get(model, FALLBACK_LR)

    source = config.reweight.conflict_source
    if method.conflict_source is None:
        if source is not None:
            raise RestError(
                f"--conflict-source applies to reweighting methods (reweight, rest, jtt); "
                f"method {config.method!r} does not reweight"
            )
    elif source is None:
        changes["reweight.conflict_source"] = method.conflict_source
    elif method.conflict_source == "jtt" and source != "jtt":
        raise RestError(
            "method 'jtt' always infers its conflicting set from an ERM error set; "
            f"for --conflict-source {source} use --method reweight or rest"
        )

    check_fields_read(config, changed_fields(config))

    if not method.sparse:
        dense = SparseConfig(density=1.0)
        if config.sparse not in (SparseConfig(), dense):
            raise RestError(
                f"method {config.method!r} trains a dense network; sparse options such as "
                "--density apply to the sparse methods (sparse, rest)"
            )
        changes.update(
            {f"sparse.{f.name}": getattr(dense, f.name) for f in dataclasses.fields(dense)}
        )
    return replace(config, **changes)
