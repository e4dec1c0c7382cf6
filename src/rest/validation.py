"""Type and range checks of every config field, driven by the field's declaration.

A config section (a dataclass) calls :func:`check_fields` first thing in its
``__post_init__``. Each field is checked against its type hint (``int``, ``float``,
``str``, ``bool``, ``X | None``) and its metadata (``choices``, ``range``), so a new
field declared with the same pattern is validated without any further code, for
``--flags``, ``--config`` files and the Python API alike. The error names the field
(``optim.epochs (--epochs): expected a positive integer, got 1.7``).

Numbers:

- an integer field accepts an integral number written as a float (``100.0`` in a
  JSON file means 100 and is stored as the int 100); ``1.7`` is refused;
- a float field accepts an int (``1`` means ``1.0``);
- ``true``/``false`` is never a number, and a number is never a boolean;
- NaN and infinities are refused everywhere;
- a field without a ``range`` accepts any finite number.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from rest.errors import RestError


@dataclass(frozen=True)
class Range:
    """The numbers a field accepts: ``low``/``high`` (None: unbounded), each end open or closed."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self, integer: bool) -> str:
        """``a positive integer``, ``a number in (0, 1]``, ``a number of at least 1`` ..."""
        kind = "integer" if integer else "number"
        article = "an" if integer else "a"
        if self.high is None:
            if self.low is None:
                return f"{article} {kind}"
            if self.low == 0:
                return f"a {'positive' if self.low_open else 'non-negative'} {kind}"
            relation = "above" if self.low_open else "of at least"
            return f"{article} {kind} {relation} {_number(self.low)}"
        low = "-inf" if self.low is None else _number(self.low)
        opening = "(" if self.low_open or self.low is None else "["
        closing = ")" if self.high_open else "]"
        return f"{article} {kind} in {opening}{low}, {_number(self.high)}{closing}"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def between(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Range:
    return Range(low, high, low_open, high_open)


def at_least(low: float) -> Range:
    return Range(low=low)


POSITIVE = Range(low=0, low_open=True)
NON_NEGATIVE = Range(low=0)
FRACTION = between(0, 1, low_open=True)  # (0, 1]
SEED = between(0, 2**32 - 1)  # what numpy's and torch's generators accept


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_fields(config: Any) -> None:
    """Check (and normalise: 3.0 -> 3 for ints, 1 -> 1.0 for floats) every plain field."""
    section = getattr(config, "SECTION", "")
    hints = typing.get_type_hints(type(config))
    for spec in dataclasses.fields(config):
        hint = hints[spec.name]
        if dataclasses.is_dataclass(hint):
            continue  # a nested section validates itself
        where = f"{section}.{spec.name}" if section else spec.name
        label = f"{where} ({flag(spec.name)})"
        value = check_value(label, getattr(config, spec.name), hint, spec.metadata)
        object.__setattr__(config, spec.name, value)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def check_value(label: str, value: Any, hint: Any, metadata: typing.Mapping[str, Any]) -> Any:
    """``value`` converted to the field's type, or a :class:`RestError` naming ``label``."""
    kind, optional = _unwrap_optional(hint)
    if value is None:
        if optional:
            return None
        raise RestError(f"{label}: expected {_expected(kind, metadata)}, got nothing (null)")
    if kind is bool:
        if not isinstance(value, bool):
            raise RestError(f"{label}: expected true or false, got {value!r}")
        return value
    if kind in (int, float):
        value = _check_number(label, value, kind is int, metadata)
    elif kind is str and not isinstance(value, str):
        raise RestError(f"{label}: expected {_expected(kind, metadata)}, got {value!r}")
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        raise RestError(f"{label}: expected {_expected(kind, metadata)}, got {value!r}")
    return value


def _check_number(label: str, value: Any, integer: bool, metadata: typing.Mapping[str, Any]) -> Any:
    expected = _expected(int if integer else float, metadata)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RestError(f"{label}: expected {expected}, got {value!r}")
    if not math.isfinite(value):
        raise RestError(f"{label}: expected {expected}, got {value}")
    if integer and value != int(value):
        raise RestError(f"{label}: expected {expected}, got {value!r}")
    allowed = metadata.get("range")
    if allowed is not None and not allowed.contains(value):
        raise RestError(f"{label}: expected {expected}, got {value!r}")
    return int(value) if integer else float(value)


def _expected(kind: Any, metadata: typing.Mapping[str, Any]) -> str:
    choices = metadata.get("choices")
    if choices is not None:
        return "one of " + ", ".join(str(c) for c in choices)
    if kind in (int, float):
        allowed = metadata.get("range") or Range()
        return allowed.describe(integer=kind is int)
    if kind is str:
        return "a text value"
    return getattr(kind, "__name__", str(kind))
