"""REST: REweighted Sparse Training for networks robust to spurious correlations.

``rest.train(config)`` trains one run and returns its summary; ``rest.evaluate``
scores a checkpoint on a dataset's splits; ``rest.load`` returns the model of a
checkpoint. The ``rest`` command line calls exactly these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rest.api import evaluate, load, train
    from rest.config import TrainConfig

__all__ = ["TrainConfig", "__version__", "evaluate", "load", "train"]


def __getattr__(name: str) -> Any:
    """Import the API on first use, so ``rest --help`` and ``rest --version`` stay fast."""
    if name in ("train", "evaluate", "load"):
        from rest import api

        return getattr(api, name)
    if name == "TrainConfig":
        from rest.config import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'rest' has no attribute {name!r}")
