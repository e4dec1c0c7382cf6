"""Fixtures of the top-level tests (helpers live in training_testing.py: conftest
modules of sibling test folders share the module name ``conftest``)."""

from __future__ import annotations

import pytest
import torch

from rest.data.dataset import BiasedSplits

from training_testing import make_splits


@pytest.fixture(autouse=True)
def private_dataset_cache(tmp_path_factory, monkeypatch):
    """Every test decodes into its own dataset cache, never the user's ~/.cache/rest."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def tiny_splits() -> BiasedSplits:
    return make_splits()


@pytest.fixture(autouse=True)
def single_thread():
    """Every test runs torch single-threaded: the models are tiny, so intra-op threads
    only add synchronisation, and on a shared CPU a descheduled worker thread can stall
    every parallel op and slow a test a hundredfold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
