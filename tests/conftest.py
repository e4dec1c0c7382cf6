"""Fixtures of the top-level tests (helpers live in training_testing.py: conftest
modules of sibling test folders share the module name ``conftest``)."""

from __future__ import annotations

import pytest

from rest.data.dataset import BiasedSplits

from training_testing import make_splits


@pytest.fixture(autouse=True)
def private_dataset_cache(tmp_path_factory, monkeypatch):
    """Every test decodes into its own dataset cache, never the user's ~/.cache/rest."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def tiny_splits() -> BiasedSplits:
    return make_splits()
