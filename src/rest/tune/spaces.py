"""The documented search space of every method.

Each method tunes the optimisation fields every method reads (learning rate,
weight decay, batch size) plus the fields of its own that change how it trains;
a method is never given a field it does not read, so no trial is spent on a knob
that does nothing. Density is never tuned: it is the axis a study is run at
(``rest tune --densities``), because trading accuracy for sparsity is the
question REST asks, not a nuisance to optimise away.

Ranges are on the scale the literature tunes them on (DomainBed draws learning
rate, weight decay and GroupDRO's eta log-uniformly; REST's published
``lambda_up`` spans 10-80; LfF's published ``q`` is 0.7 and its EMA 0.7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rest.errors import RestError
from rest.methods import METHODS


@dataclass(frozen=True)
class Param:
    """One tuned config field: ``path`` is its dotted config path (``optim.lr``)."""

    path: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None
    why: str = ""

    def suggest(self, trial: Any) -> Any:
        """Draw this field's value for an Optuna trial (the parameter is named ``path``)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.path, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.integer:
            return trial.suggest_int(self.path, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.path, self.low, self.high, log=self.log)

    def describe(self) -> str:
        """``log-uniform [0.0001, 0.1]``, ``one of 32, 64, 128, 256``, ..."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        kind = "integer " if self.integer else ""
        scale = "log-uniform" if self.log else "uniform"
        return f"{kind}{scale} [{self.low:g}, {self.high:g}]"


OPTIMISATION = (
    Param("optim.lr", 1e-4, 1e-1, log=True, why="every method; published 0.01 (CNN), 0.001"),
    Param("optim.weight_decay", 1e-6, 1e-2, log=True, why="every method; published 0"),
    Param("optim.batch_size", choices=(32, 64, 128, 256), why="every method; published 256"),
)
LAMBDA_UP = Param(
    "reweight.lambda_up", 5.0, 150.0, log=True, why="weight of a conflicting sample; 10-80"
)
SPARSE = (
    Param("sparse.alpha", 0.1, 0.7, why="fraction replaced at the first mask update; 0.5"),
    Param(
        "sparse.target_updates",
        5,
        100,
        log=True,
        integer=True,
        why="the update interval, as mask updates per run (interval = steps / updates); 30",
    ),
)

SEARCH_SPACES: dict[str, tuple[Param, ...]] = {
    "erm": OPTIMISATION,
    "reweight": (*OPTIMISATION, LAMBDA_UP),
    "sparse": (*OPTIMISATION, *SPARSE),
    "rest": (*OPTIMISATION, LAMBDA_UP, *SPARSE),
    "jtt": (*OPTIMISATION, LAMBDA_UP),
    "groupdro": (
        *OPTIMISATION,
        Param("options.groupdro_eta", 1e-3, 1e-1, log=True, why="group-weight step; 0.01"),
    ),
    "lff": (
        *OPTIMISATION,
        Param("reweight.gce_q", 0.3, 0.95, why="q of the biased model's GCE loss; 0.7"),
        Param("options.lff_ema", 0.5, 0.99, why="moving average of per-sample losses; 0.7"),
    ),
}


def search_space(method: str) -> tuple[Param, ...]:
    """The tuned fields of ``method``."""
    METHODS.get(method)
    if method not in SEARCH_SPACES:
        raise RestError(
            f"method {method!r} has no search space yet; add one to rest/tune/spaces.py "
            f"(tunable: {', '.join(sorted(SEARCH_SPACES))})"
        )
    return SEARCH_SPACES[method]


def suggest(method: str, trial: Any) -> dict[str, Any]:
    """One draw of every tuned field of ``method``: ``{dotted path: value}``."""
    return {param.path: param.suggest(trial) for param in search_space(method)}


def space_table(methods: Sequence[str] | None = None) -> list[list[str]]:
    """Rows (method, field, range, why) documenting the search spaces."""
    rows = []
    for method in methods or list(SEARCH_SPACES):
        for param in search_space(method):
            rows.append([method, param.path, param.describe(), param.why])
    return rows


def tuned_values(method: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``method``'s tuned fields in a nested config dict (as in config.json)."""
    values = {}
    for param in search_space(method):
        section, name = param.path.split(".")
        values[param.path] = config.get(section, {}).get(name)
    return values
