"""Data files that are pickles (CIFAR-10 batches) are read without running their code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from data_testing import assert_one_line_error, run_cli

from rest.data.safe_pickle import load_data_pickle
from rest.data.sources import load_source
from rest.errors import RestError


class _RunsCode:
    """Pickles to a call of ``exec``: plain ``pickle.load`` runs the string."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def _hostile_batch(path: Path, marker: Path) -> Path:
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1], b"x": _RunsCode(marker)}
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return path


def test_the_crafted_batch_really_runs_code_under_plain_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    pickle.loads(_hostile_batch(tmp_path / "batch", marker).read_bytes())
    assert marker.read_text() == "ran"  # so refusing it below means something


def test_a_crafted_cifar_batch_is_refused_without_running_code(
    cifar_source, tmp_path: Path, capsys
) -> None:
    directory = cifar_source(per_batch=10)
    marker = tmp_path / "ran"
    _hostile_batch(directory / "data_batch_3", marker)
    with pytest.raises(RestError, match=r"data_batch_3 is not a plain CIFAR-10 batch: .*exec"):
        load_source(str(directory))
    argv = ["data", "info", "corrupted", "--source", str(directory)]
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, "data_batch_3", "refusing to load builtins.exec")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_data_loads_at_every_protocol(tmp_path: Path, protocol: int) -> None:
    data = {
        b"labels": [1, 2, 3],
        b"data": np.arange(24, dtype=np.uint8).reshape(3, 8),
        b"name": "x",
        b"sizes": (1.5, -2),
        b"raw": bytearray(b"ab"),
    }
    path = tmp_path / "plain"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    loaded = load_data_pickle(path, "test file")
    assert loaded.keys() == data.keys() and loaded[b"labels"] == [1, 2, 3]
    np.testing.assert_array_equal(loaded[b"data"], data[b"data"])


def test_python2_numpy_names_of_the_official_batches_load(tmp_path: Path) -> None:
    # The official batches were pickled by Python 2 and NumPy 1: numpy.core.multiarray.
    payload = pickle.dumps({b"data": np.ones((2, 3), np.uint8)}, protocol=2)
    old = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"cnumpy.core.multiarray\n_reconstruct" in old
    (tmp_path / "old").write_bytes(old)
    np.testing.assert_array_equal(load_data_pickle(tmp_path / "old", "x")[b"data"], np.ones((2, 3)))


def test_truncated_pickle_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cut"
    path.write_bytes(pickle.dumps({b"data": np.zeros(100, np.uint8)})[:40])
    with pytest.raises(RestError, match="cannot read CIFAR-10 batch"):
        load_data_pickle(path, "CIFAR-10 batch")
