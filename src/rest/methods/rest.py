"""REST: reweighting of bias-conflicting samples on a dynamically sparse network.

The loss and sampling are those of :mod:`rest.methods.reweight`; the sparse
engine keeps the network at the configured density throughout training.
"""

from __future__ import annotations

from rest.methods.base import METHODS
from rest.methods.reweight import Reweight


@METHODS.register("rest")
class REST(Reweight):
    sparse = True
