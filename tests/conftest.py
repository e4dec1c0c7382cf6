"""Fixtures of the top-level tests (helpers live in training_testing.py: conftest
modules of sibling test folders share the module name ``conftest``)."""

from __future__ import annotations

import pytest

from rest.data.dataset import BiasedSplits

from training_testing import make_splits


@pytest.fixture
def tiny_splits() -> BiasedSplits:
    return make_splits()
