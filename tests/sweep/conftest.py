"""The session's single-node Slurm cluster (see slurm_cluster.py), for the slurm tests.

Where it cannot be started the tests that need it skip with the reason, except under
``CI=true`` when the Slurm binaries are installed: there they fail instead, so CI can
never pass without having run them.
"""

from __future__ import annotations

import os
import shutil

import pytest

from slurm_cluster import BINARIES, SlurmCluster, start_cluster, unavailable


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory):
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
