"""REST: REweighted Sparse Training for networks robust to spurious correlations."""

from __future__ import annotations

__version__ = "0.1.0"
