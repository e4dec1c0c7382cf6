"""Which config fields a run reads, so a setting that would do nothing is refused.

Methods declare the method-specific fields they read (``Method.reads``), sparse
strategies the mask-update fields (``Strategy.reads``); reweighting methods read the
inference settings only for the conflict source that uses them. ``rest train``
refuses a field its method, strategy or conflict source ignores (:func:`check_fields_read`),
and a sweep resets such fields to their defaults (:func:`unread_fields`), so they
neither fail a baseline nor change its run name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest.config import TrainConfig
from rest.errors import RestError
from rest.methods import METHODS
from rest.sparse.strategies import STRATEGIES

INFERENCE_FIELDS = {"reweight.infer_epochs": ("jtt", "gce"), "reweight.gce_q": ("gce",)}
"""Fields a reweighting method reads only when its conflicting set is inferred so."""


def _flag(field: str) -> str:
    return "--" + field.split(".")[1].replace("_", "-")


def _field_value(config: TrainConfig, field: str) -> Any:
    section, name = field.split(".")
    return getattr(getattr(config, section), name)


def declared_fields() -> list[str]:
    """Every config field some method or sparse strategy declares it reads."""
    fields = {f for name in METHODS.names() for f in METHODS.get(name).reads}
    fields |= {f for name in STRATEGIES.names() for f in STRATEGIES.get(name).reads}
    return sorted(fields)


def _conflict_source(method: str, conflict_source: str | None) -> str | None:
    """The conflict source a reweighting method uses (None for the others)."""
    default = METHODS.get(method).conflict_source
    if default is None:
        return None
    return "jtt" if default == "jtt" else conflict_source or default


def unread_fields(method: str, strategy: str, conflict_source: str | None = None) -> list[str]:
    """The declared fields that ``method`` (with ``strategy`` when it is sparse, and
    ``conflict_source`` when it reweights) ignores."""
    kind = METHODS.get(method)
    reads = set(kind.reads)
    if kind.sparse:
        reads |= STRATEGIES.get(strategy).reads
    else:  # a dense method has no strategy; its sparse section is checked as a whole
        reads |= {f for f in declared_fields() if f.startswith("sparse.")}
    source = _conflict_source(method, conflict_source)
    if source is not None:
        reads -= {f for f, sources in INFERENCE_FIELDS.items() if source not in sources}
    return [field for field in declared_fields() if field not in reads]


def check_fields_read(config: TrainConfig, given: Iterable[str]) -> None:
    """Refuse a field in ``given`` (``"section.name"``) that the config's method, its
    sparse strategy or its conflict source does not read: it would silently do nothing."""
    source = config.reweight.conflict_source
    unread = set(unread_fields(config.method, config.sparse.strategy, source))
    for field in sorted(set(given) & unread):
        flag = _flag(field)
        if field.startswith("sparse."):
            strategies = [s for s in STRATEGIES.names() if field in STRATEGIES.get(s).reads]
            raise RestError(
                f"sparse strategy {config.sparse.strategy!r} does not read {flag}; "
                f"it applies to the strategies {', '.join(strategies)}"
            )
        if field in METHODS.get(config.method).reads:
            used = _conflict_source(config.method, source)
            raise RestError(
                f"method {config.method!r} with --conflict-source {used} does not read {flag}; "
                f"it applies to --conflict-source {' or '.join(INFERENCE_FIELDS[field])}"
            )
        methods = [m for m in METHODS.names() if field in METHODS.get(m).reads]
        raise RestError(
            f"method {config.method!r} does not read {flag}; it applies to the methods "
            f"{', '.join(methods)}"
        )


def changed_fields(config: TrainConfig) -> list[str]:
    """The declared fields whose value differs from the default."""
    default = TrainConfig()
    return [f for f in declared_fields() if _field_value(config, f) != _field_value(default, f)]
