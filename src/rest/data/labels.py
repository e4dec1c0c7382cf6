"""Label values a reader found, checked before they decide the number of classes.

A dataset read from files has as many classes as its largest label plus one, so a
single stray file name ``..._99999_0.png`` among ten classes would silently give
100,000 classes (99,990 of them empty), and one stray bias label as many bias
values. :func:`checked_class_count` refuses labels that break the pattern -- values
``0..K-1`` with none missing -- and names the file (or row) that carries one and
what to do about it: fix or remove it, or declare the number of classes
(``--num-classes``), which then also allows classes without samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rest.data.arrays import SplitArrays
from rest.data.dataset import UNKNOWN_BIAS
from rest.errors import RestError

# ``origin(split, index)``: where sample ``index`` of ``split`` came from, in words
# (``the file PATH``, ``line 7 of PATH``), for error messages.
Origin = Callable[[str, int], str]


def checked_class_count(
    parts: dict[str, SplitArrays | None], origin: Origin, num_classes: int | None
) -> int:
    """The number of classes of ``parts`` (every split), after checking both label kinds.

    ``num_classes`` is the user's declared count (``None``: the labels must be
    ``0..K-1`` with every value present in some split).
    """
    present = {k: v for k, v in parts.items() if v is not None}
    _check_biases(present, origin)
    if num_classes is not None:
        for split, arrays in present.items():
            over = np.flatnonzero(arrays.targets >= num_classes)
            if over.size:
                raise RestError(
                    f"{origin(split, int(over[0]))} has label y={int(arrays.targets[over[0]])}, "
                    f"but --num-classes is {num_classes} (labels 0..{num_classes - 1}); fix or "
                    f"remove the {over.size} such {split} sample(s), or raise --num-classes"
                )
        return num_classes
    values = np.unique(np.concatenate([a.targets for a in present.values()]))
    _refuse_gaps(values, present, "targets", "label y", origin, "--num-classes")
    return int(values.max(initial=0)) + 1


def _check_biases(present: dict[str, SplitArrays], origin: Origin) -> None:
    known = [a.biases[a.biases != UNKNOWN_BIAS] for a in present.values()]
    values = np.unique(np.concatenate(known)) if known else np.empty(0, np.int64)
    _refuse_gaps(values, present, "biases", "bias label b", origin, None)


def _refuse_gaps(
    values: np.ndarray,
    present: dict[str, SplitArrays],
    field: str,
    what: str,
    origin: Origin,
    declare: str | None,
) -> None:
    """:class:`RestError` unless the sorted distinct ``values`` are exactly ``0..K-1``."""
    if values.size == 0 or int(values[-1]) == values.size - 1:
        return
    stray = int(values[values >= values.size][0])  # values a dense 0..K-1 numbering cannot hold
    split, index = next(
        (s, int(np.flatnonzero(getattr(a, field) == stray)[0]))
        for s, a in present.items()
        if (getattr(a, field) == stray).any()
    )
    largest = int(values[-1])
    missing = np.setdiff1d(np.arange(largest + 1), values)
    shown = ", ".join(str(v) for v in missing[:3]) + (", ..." if missing.size > 3 else "")
    fix = "fix or remove the samples with out-of-pattern labels"
    if declare is not None:
        fix += f", or declare the count with {declare} {largest + 1} if it is real"
    raise RestError(
        f"{origin(split, index)} has {what}={stray}, but {missing.size} of the values "
        f"0..{largest} never occur ({shown}): the labels would make {largest + 1} values where "
        f"{values.size} occur; {fix}"
    )
