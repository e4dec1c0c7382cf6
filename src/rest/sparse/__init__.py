"""Sparse training: masks over conv/linear weights, kept sparse from scratch.

The training loop builds one :class:`SparseTraining` around the model and calls it
around each optimizer step; :func:`inference_flops`, :func:`training_flops` and
:func:`model_size` report the cost, :func:`save_compact` / :func:`load_compact`
store the sparse model. Each family of choices is a name registry:
``DISTRIBUTIONS``, ``STRATEGIES``, ``DROP_RULES``, ``GROW_RULES``,
``ALPHA_SCHEDULES``, ``STATIC_SCORES``.
"""

from __future__ import annotations

from rest.sparse.checkpoint import load_compact, save_compact
from rest.sparse.config import SparseConfig
from rest.sparse.distributions import DISTRIBUTIONS, layer_counts, layer_densities
from rest.sparse.drop import DROP_RULES
from rest.sparse.flops import inference_flops, training_flops
from rest.sparse.grow import GROW_RULES
from rest.sparse.masking import maskable_parameters, model_size
from rest.sparse.schedules import ALPHA_SCHEDULES
from rest.sparse.scores import STATIC_SCORES
from rest.sparse.strategies import STRATEGIES, Strategy
from rest.sparse.training import SparseTraining, resolve_update_frequency

__all__ = [
    "ALPHA_SCHEDULES",
    "DISTRIBUTIONS",
    "DROP_RULES",
    "GROW_RULES",
    "STATIC_SCORES",
    "STRATEGIES",
    "SparseConfig",
    "SparseTraining",
    "Strategy",
    "inference_flops",
    "layer_counts",
    "layer_densities",
    "load_compact",
    "maskable_parameters",
    "model_size",
    "resolve_update_frequency",
    "save_compact",
    "training_flops",
]
