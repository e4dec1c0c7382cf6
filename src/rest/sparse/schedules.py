"""Drop-fraction schedules: how ``alpha`` decays over the mask-update window.

A schedule maps ``(alpha, step, end)`` to the fraction of active weights replaced
at ``step``; ``end`` is the step after which no update happens. Large early
updates explore, small late ones let the final topology settle (RigL uses cosine).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rest.registry import Registry

Schedule = Callable[[float, int, int], float]

ALPHA_SCHEDULES: Registry[Schedule] = Registry("drop-fraction schedule")


@ALPHA_SCHEDULES.register("cosine")
def cosine(alpha: float, step: int, end: int) -> float:
    return alpha / 2 * (1 + math.cos(math.pi * min(step, end) / end))


@ALPHA_SCHEDULES.register("linear")
def linear(alpha: float, step: int, end: int) -> float:
    return alpha * (1 - min(step, end) / end)


@ALPHA_SCHEDULES.register("constant")
def constant(alpha: float, step: int, end: int) -> float:
    return alpha
