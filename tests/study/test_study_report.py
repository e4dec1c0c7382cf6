"""The study report on hand-made summaries: the verdict rule, the Pareto front, the
tables with their traceable links, the PARTIAL marking and what is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from study_testing import PNG_MAGIC, squash

from rest.errors import RestError
from rest.report.collect import Stat
from rest.report.study import write_study_report
from rest.report.study_grid import PlannedRun, SkippedPart
from rest.report.study_plots import pareto_front
from rest.report.study_tables import verdict

# ---- the verdict rule ----


@pytest.mark.parametrize(
    "rest, reweight, expected",
    [
        (Stat(0.60, 0.02, 3), Stat(0.50, 0.05, 3), "wins"),  # +10 > max std 5
        (Stat(0.40, 0.02, 3), Stat(0.50, 0.05, 3), "loses"),  # -10 < -5
        (Stat(0.53, 0.02, 3), Stat(0.50, 0.05, 3), "ties"),  # +3 within 5
        (Stat(0.47, 0.06, 3), Stat(0.50, 0.01, 3), "ties"),  # -3 within REST's 6
        (Stat(0.75, 0.25, 3), Stat(0.50, 0.125, 3), "ties"),  # exactly one std: not more
        (Stat(0.90, None, 1), Stat(0.50, 0.01, 3), "too few seeds"),
        (Stat(0.90, 0.01, 3), Stat(None, None, 0), "not run"),
    ],
)
def test_verdict_rule(rest: Stat, reweight: Stat, expected: str) -> None:
    assert verdict(rest, reweight) == expected


def test_pareto_front_keeps_points_nothing_beats() -> None:
    points = [(10.0, 50.0), (1.0, 40.0), (5.0, 30.0), (2.0, 45.0), (10.0, 20.0)]
    assert pareto_front(points) == [(1.0, 40.0), (2.0, 45.0), (10.0, 50.0)]


# ---- the report on hand-made summaries ----


def _summary(method: str, density: float, seed: int, conflicting: float) -> dict[str, Any]:
    test = {"conflicting": conflicting, "unbiased": conflicting + 0.1, "worst_group": 0.05}
    return {
        "status": "done",
        "method": method,
        "dataset": "cfmnist",
        "density": density,
        "seed": seed,
        "selected": {"epoch": seed - 38, "test": test},
        # the last epoch: only its own column may read it
        "last": {"epoch": 9, "test": {**test, "conflicting": conflicting - 0.1}},
        "size": {"nonzeros": int(600_000 * density)},
        "flops": {
            "inference": {"sparse": 4e6 * density},
            "training": {"sparse": 3e12 * density},
        },
        "time": {"seconds_per_epoch": 40.0 + seed - 41, "total_seconds": 5 * (40.0 + seed - 41)},
    }


def _hand_made(root: Path, conflicting: dict[tuple[str, float], list[float]]) -> list[PlannedRun]:
    """A planned run per (method, density, seed); a summary for each value given (None:
    that seed has not finished)."""
    planned = []
    for (method, density), values in conflicting.items():
        for seed, value in zip((41, 42, 43), values, strict=True):
            path = root / f"{method}-d{density:g}-s{seed}"
            run = PlannedRun("default", "cfmnist", 1.0, method, density, seed, path)
            planned.append(run)
            path.mkdir(parents=True)
            (path / "config.json").write_text(json.dumps({"method": method}))
            if value is not None:
                summary = _summary(method, density, seed, value)
                (path / "summary.json").write_text(json.dumps(summary))
    return planned


def _report(tmp_path: Path, planned: list[PlannedRun], skipped: list[SkippedPart] = ()) -> Any:
    return write_study_report(
        planned,
        list(skipped),
        tmp_path / "report",
        header=["# study", ""],
        command_for=lambda dataset, pct: f"study --datasets {dataset} --pcts {pct:g}",
    )


def test_report_tables_verdicts_links_and_plots(tmp_path: Path) -> None:
    planned = _hand_made(
        tmp_path / "runs",
        {
            ("reweight", 1.0): [0.50, 0.52, 0.48],  # 50 ± 2
            ("rest", 0.5): [0.60, 0.61, 0.59],  # 60 ± 1: wins
            ("rest", 0.1): [0.51, 0.49, 0.50],  # 50 ± 1: ties
            ("rest", 0.01): [0.30, 0.31, 0.29],  # 30 ± 1: loses
            ("erm", 1.0): [0.10, 0.12, 0.08],
        },
    )
    report = _report(tmp_path, planned)
    text = squash(report.markdown.read_text())
    assert not report.partial and "PARTIAL" not in text
    assert "Complete: all 15 planned runs finished" in text
    assert [(v.density, v.outcome) for v in report.verdicts] == [
        (0.5, "wins"),
        (0.1, "ties"),
        (0.01, "loses"),
    ]
    assert "| cfmnist | 1 | default | 0.5 | 60.0 ± 1.0 | 50.0 ± 2.0 | +10.0 | wins |" in text
    assert "REST wins at density 0.5; ties at density 0.1; loses at density 0.01." in text
    # the table: selected (not last) test metrics, size and FLOPs, and the command beside it
    assert "Run: `study --datasets cfmnist --pcts 1`" in text
    rest_row = next(line for line in text.splitlines() if "| REST" in line and "| 0.5 " in line)
    assert "60.0 ± 1.0" in rest_row and "70.0 ± 1.0" in rest_row and "5.0 ± 0.0" in rest_row
    assert "| 300k | 2M | 1.5T |" in rest_row
    # the epoch each seed selected, in seed order, and the measured wall seconds per epoch
    assert "| 3, 4, 5 | 50.0 ± 1.0 | 41 ± 1 |" in rest_row
    assert "3/3" in rest_row
    # every number traceable: the linked config and summary were copied beside the report
    links = [part.split("](")[1].split(")")[0] for part in rest_row.split("[s")[1:]]
    assert len(links) == 3
    for link in links:
        copied = report.markdown.parent / link
        assert json.loads((copied / "summary.json").read_text())["method"] == "rest"
        assert (copied / "config.json").is_file()
    names = sorted(path.name for path in report.plots)
    assert names == [
        "cfmnist-1pct-conflicting-vs-density.png",
        "cfmnist-1pct-conflicting-vs-flops.png",
    ]
    assert all(path.read_bytes()[:8] == PNG_MAGIC for path in report.plots)


def test_incomplete_grid_is_marked_partial_with_what_is_missing(tmp_path: Path) -> None:
    planned = _hand_made(
        tmp_path / "runs",
        {("reweight", 1.0): [0.50, None, 0.48], ("rest", 0.1): [0.51, 0.49, 0.50]},
    )
    planned.append(
        PlannedRun("default", "corrupted", 5.0, "erm", 1.0, 41, tmp_path / "runs" / "never")
    )
    skipped = [SkippedPart("tuned", "cfmnist", 1.0, "rest", "no chosen config for it")]
    report = _report(tmp_path, planned, skipped)
    text = squash(report.markdown.read_text())
    assert report.partial
    assert "**PARTIAL**: 5 of 7 planned runs finished" in text
    missing = text.split("## Not run yet")[1]
    assert "cfmnist, 1%: 5/6 runs; not finished: dense reweighting (seeds 42)" in missing
    assert "corrupted, 5%: 0/1 runs; not finished: ERM (seeds 41)" in missing
    assert "tuned row of REST not planned on cfmnist 1%: no chosen config for it" in missing
    assert "## corrupted, 5% bias-conflicting\n\nRun: `study --datasets corrupted --pcts 5`" in text
    assert "\n\nNot run yet.\n" in text
    rew_row = next(line for line in text.splitlines() if "| default | dense reweighting" in line)
    assert "2/3" in rew_row and "49.0 ± 1.4" in rew_row


def test_empty_plan_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(RestError, match="the study plan is empty"):
        _report(tmp_path, [])
