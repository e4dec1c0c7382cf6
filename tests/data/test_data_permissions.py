"""A dataset folder, split folder, class folder or file we may not read: one line naming it.

Root reads everything whatever the mode bits, so as root the same checks run in a
child process whose capability bounding set lacks CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH: it is still root, but the mode bits apply to it (``rest``
itself is unchanged).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_testing import write_png

from rest.cli import main

# prctl(2) option and capability numbers from <linux/prctl.h> and <linux/capability.h>.
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
IS_ROOT = os.geteuid() == 0


def _cases(tmp_path: Path, disent_dir, idx_source) -> tuple[dict[str, list[str]], list[Path]]:
    """``rest`` argument lists, each meeting one unreadable thing, and what to lock."""
    csv_root = tmp_path / "wb"
    write_png(csv_root / "a.png", 0, 0)
    (csv_root / "metadata.csv").write_text(
        "img_filename,y,place,split\n" + "".join(f"a.png,{i % 2},0,{i % 3}\n" for i in range(6))
    )
    lff = tmp_path / "lff"
    for split in ("train", "valid"):
        (lff / split).mkdir(parents=True)
        np.save(lff / split / "images.npy", np.zeros((4, 4, 4, 3), np.uint8))
        np.save(lff / split / "attrs.npy", np.stack([np.arange(4) % 2] * 2, axis=1))
    roots = {name: disent_dir(name, pcts=("1",)) for name in ("cmnist", "cifar10c", "bffhq")}
    roots["file"] = disent_dir("file", pcts=("1",))
    image = sorted((roots["file"] / "test").rglob("*.png"))[0]
    source = idx_source()
    locked = {
        "dataset folder": roots["cmnist"],
        "split folder": roots["bffhq"] / "test",
        "class folder": roots["cifar10c"] / "test" / "1",
        "image file": image,
        "metadata csv": csv_root / "metadata.csv",
        "lff split folder": lff / "train",
        "source folder": source,
    }
    info = ["data", "info"]
    cases = {
        "dataset folder": [*info, str(roots["cmnist"])],
        "split folder": [*info, str(roots["bffhq"]), "--conflict-pct", "1"],
        "class folder": [*info, str(roots["cifar10c"]), "--conflict-pct", "1"],
        "image file": [*info, str(roots["file"]), "--conflict-pct", "1"],
        "metadata csv": [*info, str(csv_root)],
        "lff split folder": [*info, str(lff), "--layout", "lff"],
        "source folder": [*info, "cmnist", "--source", str(source)],
    }
    return {k: cases[k] for k in locked}, [locked[k] for k in locked]


def _run_all(cases: dict[str, list[str]]) -> dict[str, list]:
    """Run each argument list through the CLI; (exit code, stderr) by case."""
    results = {}
    for name, argv in cases.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except BaseException as error:
                code, err = -1, io.StringIO(f"Traceback: {error!r}")
        results[name] = [code, err.getvalue()]
    return results


def _expect_permission_denied(results: dict[str, list], locked: list[Path]) -> None:
    for (name, (code, err)), path in zip(results.items(), locked, strict=True):
        lines = err.strip().splitlines()
        assert code != 0 and len(lines) == 1, (name, err)
        assert lines[0] == f"rest: error: permission denied: {path}", (name, err)


@contextlib.contextmanager
def _unreadable(paths: list[Path]):
    modes = [p.stat().st_mode for p in paths]
    for p in paths:
        p.chmod(0)
    try:
        yield
    finally:
        for p, mode in zip(paths, modes, strict=True):
            p.chmod(mode)


@pytest.mark.skipif(IS_ROOT, reason="root reads any file; the capability-dropping test runs")
def test_unreadable_parts_are_named(tmp_path: Path, disent_dir, idx_source) -> None:
    cases, locked = _cases(tmp_path, disent_dir, idx_source)
    with _unreadable(locked):
        results = _run_all(cases)
    _expect_permission_denied(results, locked)


def _drop_file_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.mark.skipif(not IS_ROOT, reason="only root needs its file capabilities dropped")
def test_unreadable_parts_are_named_for_root_without_file_capabilities(
    tmp_path: Path, disent_dir, idx_source
) -> None:
    cases, locked = _cases(tmp_path, disent_dir, idx_source)
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from test_data_permissions import _run_all; "
        "print(json.dumps(_run_all(json.loads(sys.argv[2]))))"
    )
    argv = [sys.executable, "-c", script, str(Path(__file__).parent), json.dumps(cases)]
    with _unreadable(locked):
        try:
            child = subprocess.run(
                argv, capture_output=True, text=True, preexec_fn=_drop_file_capabilities
            )
        except subprocess.SubprocessError as error:
            pytest.skip(f"cannot drop CAP_DAC_OVERRIDE here: {error}")
    assert child.returncode == 0, child.stderr
    _expect_permission_denied(json.loads(child.stdout.splitlines()[-1]), locked)
