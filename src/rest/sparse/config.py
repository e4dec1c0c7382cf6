"""Settings of sparse training, validated on construction.

Every field carries a ``help`` string in its metadata; the CLI builds its flags
from them, so a field documented here is documented on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rest.sparse.distributions import DISTRIBUTIONS
from rest.sparse.schedules import ALPHA_SCHEDULES
from rest.sparse.strategies import STRATEGIES
from rest.validation import FRACTION, POSITIVE, between, check_fields

UPDATE_ORDERS = ("after-step", "before-step")


@dataclass
class SparseConfig:
    SECTION: ClassVar[str] = "sparse"

    density: float = field(
        default=0.1,
        metadata={
            "help": "fraction of conv/linear weights kept, in (0, 1]; 1.0 trains the dense model",
            "range": FRACTION,
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
            "to make about target_updates updates (the published runs used 1000)",
            "range": POSITIVE,
        },
    )
    target_updates: int = field(
        default=30,
        metadata={
            "help": "number of mask updates aimed at when update_frequency is automatic",
            "range": POSITIVE,
        },
    )
    alpha: float = field(
        default=0.5,
        metadata={
            "help": "fraction of active weights replaced at the first update, in (0, 1)",
            "range": between(0, 1, low_open=True, high_open=True),
        },
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
        metadata={
            "help": "fraction of the training steps after which masks freeze, in (0, 1]",
            "range": FRACTION,
        },
    )
    dense_first_layer: bool = field(
        default=False, metadata={"help": "keep the first conv/linear layer dense"}
    )
    dense_last_layer: bool = field(
        default=False, metadata={"help": "keep the last conv/linear layer (the classifier) dense"}
    )

    def __post_init__(self) -> None:
        check_fields(self)
        DISTRIBUTIONS.get(self.distribution)
        STRATEGIES.get(self.strategy)
        ALPHA_SCHEDULES.get(self.alpha_schedule)
