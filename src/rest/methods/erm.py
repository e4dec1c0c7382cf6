"""ERM ("vanilla"): mean cross-entropy on uniformly shuffled data, dense network."""

from __future__ import annotations

from rest.methods.base import METHODS, Method


@METHODS.register("erm")
class ERM(Method):
    pass
