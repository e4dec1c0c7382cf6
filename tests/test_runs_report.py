"""``rest report`` on bad inputs: damaged or foreign run files, a file as the runs folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_config_validation import assert_one_line_error, run_cli
from test_report import make_summary, write_run


@pytest.fixture
def good_run(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    write_run(runs, "good", make_summary("erm", 1.0, 1, 0.5, sparse=False))
    return runs


def test_binary_summary_is_skipped_and_named(capsys, good_run):
    damaged = write_run(good_run, "binary", None)
    (damaged / "summary.json").write_bytes(b"\x80\x04\x95\xff\xfe binary \x00\x01")
    code, out, err = run_cli(capsys, "report", str(good_run))
    assert code == 0, err
    assert "1 runs in 1 groups (1 unfinished or unreadable skipped)" in out
    report = (good_run / "report" / "report.md").read_text()
    assert f"skipped summary: `{damaged / 'summary.json'}`" in report


def test_only_a_binary_summary_is_one_line(capsys, tmp_path):
    damaged = write_run(tmp_path / "runs", "binary", None)
    (damaged / "summary.json").write_bytes(b"\xff\xfe\x00binary")
    code, _, err = run_cli(capsys, "report", str(tmp_path / "runs"))
    assert_one_line_error(code, err, "no finished runs")
    assert not (tmp_path / "runs" / "report").exists()


@pytest.mark.parametrize(
    "damage",
    [
        {"density": "0.1"},
        {"seed": None},
        {"method": 5},
        {"selected": []},
        {"selected": {"test": {"conflicting": "high"}}},
        {"selected": {"test": {"groups": {"zero,one": 0.5}}}},
        {"flops": {"inference": "big"}},
        {"time": {"seconds_per_epoch": "2s"}},
        {"size": {"nonzeros": True}},
        {"config": "lr=0.1"},
    ],
)
def test_summary_with_fields_of_the_wrong_type_is_skipped(capsys, good_run, damage):
    foreign = write_run(good_run, "foreign", None)
    summary = {**make_summary("erm", 1.0, 2, 0.5, sparse=False), **damage}
    (foreign / "summary.json").write_text(json.dumps(summary))
    code, out, err = run_cli(capsys, "report", str(good_run))
    assert code == 0, err
    assert "1 unfinished or unreadable skipped" in out


def test_a_file_as_the_runs_folder_is_named_as_a_file(capsys, tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(make_summary("erm", 1.0, 1, 0.5, sparse=False)))
    code, _, err = run_cli(capsys, "report", str(path))
    assert_one_line_error(code, err, str(path), "is a file", "the directory that holds the runs")
    code, _, err = run_cli(capsys, "report", str(tmp_path / "missing"))
    assert_one_line_error(code, err, "does not exist")
