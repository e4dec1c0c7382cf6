"""Sparse-training strategies: how masks are chosen and whether they move.

A strategy is a named combination of the rule families: dynamic strategies name a
drop rule and a grow rule applied every ``update_frequency`` steps; static ones
keep their initial mask, random unless a static score picks it from data.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest.registry import Registry

DYNAMIC_FIELDS = frozenset(
    {
        "sparse.update_frequency",
        "sparse.target_updates",
        "sparse.alpha",
        "sparse.alpha_schedule",
        "sparse.stop_fraction",
        "sparse.update_order",
        "sparse.regrow_dropped",
    }
)
"""The config fields that drive mask updates: read by dynamic strategies only."""


@dataclass(frozen=True)
class Strategy:
    drop: str | None = None
    """Drop rule (``rest.sparse.drop``) of a dynamic strategy."""
    grow: str | None = None
    """Grow rule (``rest.sparse.grow``) of a dynamic strategy."""
    score: str | None = None
    """Static score (``rest.sparse.scores``) choosing the mask at initialisation."""

    @property
    def dynamic(self) -> bool:
        return self.grow is not None

    @property
    def reads(self) -> frozenset[str]:
        """The strategy-specific config fields ("section.name") this strategy reads."""
        return DYNAMIC_FIELDS if self.dynamic else frozenset()


STRATEGIES: Registry[Strategy] = Registry("sparse strategy")

STRATEGIES.register("rigl")(Strategy(drop="magnitude", grow="gradient"))
STRATEGIES.register("set")(Strategy(drop="magnitude", grow="random"))
STRATEGIES.register("static")(Strategy())
STRATEGIES.register("snip")(Strategy(score="snip"))
STRATEGIES.register("grasp")(Strategy(score="grasp"))
