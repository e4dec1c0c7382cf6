"""Fixtures of the top-level tests (helpers live in training_testing.py: conftest
modules of sibling test folders share the module name ``conftest``)."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from rest.data.dataset import BiasedSplits

from slurm_cluster import BINARIES, SlurmCluster, start_cluster, unavailable
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


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory):
    """The session's single-node Slurm cluster (see slurm_cluster.py), for the slurm tests
    of rest sweep and rest tune.

    Where it cannot be started the tests that need it skip with the reason, except under
    ``CI=true`` when the Slurm binaries are installed: there they fail instead, so CI can
    never pass without having run them.
    """
    must_run = os.environ.get("CI") == "true" and all(shutil.which(b) for b in BINARIES)
    reason = unavailable()
    try:
        import submitit  # noqa: F401
    except ImportError:
        reason = reason or "submitit is not installed: pip install -e '.[slurm]'"
    if reason is not None:
        if must_run:
            pytest.fail(f"CI must run the Slurm tests, but: {reason}")
        pytest.skip(reason)
    cluster: SlurmCluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.stop()
