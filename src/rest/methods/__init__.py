"""Training methods, one file each, registered by name in :data:`METHODS`."""

from __future__ import annotations

from rest.methods import erm, groupdro, jtt, lff, rest, reweight, sparse  # noqa: F401
from rest.methods.base import METHODS, Method, MethodContext

__all__ = ["METHODS", "Method", "MethodContext"]
