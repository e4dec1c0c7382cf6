"""Settings of sparse training, validated on construction.

Every field carries a ``help`` string in its metadata; the CLI builds its flags
from them, so a field documented here is documented on the command line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rest.errors import RestError
from rest.sparse.distributions import DISTRIBUTIONS
from rest.sparse.schedules import ALPHA_SCHEDULES
from rest.sparse.strategies import STRATEGIES

UPDATE_ORDERS = ("after-step", "before-step")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class SparseConfig:
    density: float = field(
        default=0.1,
        metadata={
            "help": "fraction of conv/linear weights kept, in (0, 1]; 1.0 trains the dense model"
        },
    )
    distribution: str = field(
        default="erk",
        metadata={"help": "how the density is shared among layers: uniform, er or erk"},
    )
    strategy: str = field(
        default="rigl",
        metadata={
            "help": "rigl or set (dynamic masks), static (fixed random mask), "
            "snip or grasp (mask scored from data at initialisation)"
        },
    )
    update_frequency: int | None = field(
        default=None,
        metadata={
            "help": "steps between mask updates; default: chosen from the run length "
            "to make about target_updates updates (the published runs used 1000)"
        },
    )
    target_updates: int = field(
        default=30,
        metadata={"help": "number of mask updates aimed at when update_frequency is automatic"},
    )
    alpha: float = field(
        default=0.5,
        metadata={"help": "fraction of active weights replaced at the first update, in (0, 1)"},
    )
    alpha_schedule: str = field(
        default="cosine",
        metadata={"help": "decay of that fraction over the updates: cosine, linear, constant"},
    )
    update_order: str = field(
        default="after-step",
        metadata={
            "help": "when a mask update runs: after-step (published RigL: the optimizer steps "
            "on the old mask, then the update ranks by that step's gradient, so grown weights "
            "start at exactly zero) or before-step (the update runs first and grown weights "
            "leave the step at -lr*g)",
            "choices": UPDATE_ORDERS,
        },
    )
    regrow_dropped: bool = field(
        default=True,
        metadata={
            "help": "just-dropped weights compete with every inactive position for regrowth "
            "(published RigL: one that wins keeps its value); off: they rank below every "
            "other inactive position"
        },
    )
    stop_fraction: float = field(
        default=1.0,
        metadata={"help": "fraction of the training steps after which masks freeze, in (0, 1]"},
    )
    dense_first_layer: bool = field(
        default=False, metadata={"help": "keep the first conv/linear layer dense"}
    )
    dense_last_layer: bool = field(
        default=False, metadata={"help": "keep the last conv/linear layer (the classifier) dense"}
    )

    def __post_init__(self) -> None:
        if not _is_number(self.density) or not 0 < self.density <= 1:
            raise RestError(f"density must be in (0, 1], got {self.density!r}")
        DISTRIBUTIONS.get(self.distribution)
        STRATEGIES.get(self.strategy)
        ALPHA_SCHEDULES.get(self.alpha_schedule)
        if self.update_frequency is not None and (
            not _is_int(self.update_frequency) or self.update_frequency < 1
        ):
            raise RestError(
                f"update_frequency must be a positive integer or automatic, "
                f"got {self.update_frequency!r}"
            )
        if not _is_int(self.target_updates) or self.target_updates < 1:
            raise RestError(
                f"target_updates must be a positive integer, got {self.target_updates!r}"
            )
        if not _is_number(self.alpha) or not 0 < self.alpha < 1:
            raise RestError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.update_order not in UPDATE_ORDERS:
            raise RestError(
                f"unknown update_order {self.update_order!r}; choose one of: "
                f"{', '.join(UPDATE_ORDERS)}"
            )
        if not _is_number(self.stop_fraction) or not 0 < self.stop_fraction <= 1:
            raise RestError(f"stop_fraction must be in (0, 1], got {self.stop_fraction!r}")
        for name in ("regrow_dropped", "dense_first_layer", "dense_last_layer"):
            if not isinstance(getattr(self, name), bool):
                raise RestError(f"{name} must be true or false, got {getattr(self, name)!r}")
