"""Sparse-only: ERM on a dynamically sparse network, without reweighting.

Isolates the effect of sparsity from that of reweighting in the REST ablation.
"""

from __future__ import annotations

from rest.methods.base import METHODS, Method


@METHODS.register("sparse")
class SparseERM(Method):
    sparse = True
