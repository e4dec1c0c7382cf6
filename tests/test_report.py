"""The collector: grouping, mean ± sample std over seeds, plots, skipped runs, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rest.cli import main
from rest.errors import RestError
from rest.report import (
    Stat,
    collect,
    group_runs,
    representative_groups,
    run_density,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_summary(
    method: str,
    density: float,
    seed: int,
    conflicting: float,
    *,
    sparse: bool,
    pct: float = 1.0,
    dataset: str = "cmnist",
    unbiased: float = 0.6,
    worst: float | None = 0.4,
    lr: float = 0.01,
) -> dict[str, Any]:
    """A summary.json in the engine's schema, with chosen test metrics."""
    test = {
        "count": 100,
        "accuracy": 0.9,
        "loss": 0.3,
        "unbiased": unbiased,
        "worst_group": worst,
        "aligned": 0.95,
        "conflicting": conflicting,
        "groups": {"0,0": 0.9, "0,1": conflicting, "1,0": 0.2, "1,1": 0.8},
    }
    return {
        "status": "done",
        "method": method,
        "dataset": dataset,
        "conflict_pct": pct,
        "model": "cnn",
        "density": density,
        "seed": seed,
        "epochs": 2,
        "selection": {"metric": "valid worst_group", "epoch": 2},
        # the last epoch's test metrics differ, so reading the wrong epoch shows
        "selected": {"epoch": 2, "valid": dict(test), "test": test},
        "last": {"epoch": 2, "valid": dict(test), "test": {**test, "conflicting": 0.0}},
        "size": {"total_params": 1000, "nonzeros": int(1000 * density)},
        "flops": {"inference": {"dense": 100.0, "sparse": 100.0 * density, "ratio": density}},
        "sparse": {"updates_done": 3} if sparse else None,
        "reweight": None,
        "time": {"total_seconds": 4.0, "seconds_per_epoch": 2.0 + seed % 2},
        "config": {
            "method": method,
            "data": {"dataset": dataset, "conflict_pct": pct},
            "optim": {"lr": lr},
            "run": {"seed": seed, "device": "cpu"},
        },
    }


def write_run(root: Path, name: str, summary: dict[str, Any] | None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"method": "x"}))
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    # erm is dense: its config's unused density (0.1) must not place it at 0.1
    for seed, conflicting in ((1, 0.50), (2, 0.60)):
        write_run(root, f"erm-s{seed}", make_summary("erm", 0.1, seed, conflicting, sparse=False))
    for seed, conflicting in ((1, 0.1), (2, 0.2), (3, 0.6)):
        summary = make_summary("rest", 0.1, seed, conflicting, sparse=True)
        write_run(root / "nested" / "deeper", f"rest-d0.1-s{seed}", summary)
    write_run(root, "rest-d0.05-s1", make_summary("rest", 0.05, 1, 0.35, sparse=True))
    write_run(root, "erm-5pct-s1", make_summary("erm", 1.0, 1, 0.7, sparse=False, pct=5.0))
    return root


def test_stat_uses_sample_std_and_skips_missing_values() -> None:
    stat = Stat.of([0.1, None, 0.2, 0.6])
    assert stat.n == 3
    assert stat.mean == pytest.approx(0.3)
    assert stat.std == pytest.approx(math.sqrt(((0.2) ** 2 + 0.1**2 + 0.3**2) / 2))
    assert stat.format() == "30.0 ± 26.5"
    assert Stat.of([0.123]).format() == "12.3"  # one seed: the mean alone
    assert Stat.of([None, None]).format() == "-"


def test_dense_runs_sit_at_density_one() -> None:
    assert run_density(make_summary("erm", 0.1, 1, 0.5, sparse=False)) == 1.0
    assert run_density(make_summary("rest", 0.1, 1, 0.5, sparse=True)) == 0.1


def test_groups_by_dataset_ratio_method_density(runs: Path) -> None:
    groups = group_runs(collect(runs).summaries)
    keys = [(g.dataset, g.conflict_pct, g.method, g.density, g.seeds) for g in groups]
    assert keys == [
        ("cmnist", 1.0, "erm", 1.0, [1, 2]),
        ("cmnist", 1.0, "rest", 0.1, [1, 2, 3]),
        ("cmnist", 1.0, "rest", 0.05, [1]),
        ("cmnist", 5.0, "erm", 1.0, [1]),
    ]
    erm, rest, _, _ = groups
    assert erm.metric("conflicting").mean == pytest.approx(0.55)
    assert erm.metric("conflicting").std == pytest.approx(math.sqrt(0.005))
    assert rest.metric("conflicting").std == pytest.approx(0.264575, rel=1e-5)
    assert rest.nonzeros().mean == pytest.approx(100)
    assert rest.group_accuracy()[0, 1] == pytest.approx(0.3)
    assert rest.group_accuracy()[1, 0] == pytest.approx(0.2)


def test_report_tables_plots_and_stdout(runs: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    assert main(["report", str(runs), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {
        tuple(cell.strip() for cell in line.strip("|").split("|")[:5]): line
        for line in printed.splitlines()
        if line.startswith("| cmnist")
    }
    assert len(rows) == 4
    assert "55.0 ± 7.1" in rows["cmnist", "1", "erm", "1", "2"]  # (50, 60): sample std
    assert "30.0 ± 26.5" in rows["cmnist", "1", "rest", "0.1", "3"]
    single = rows["cmnist", "1", "rest", "0.05", "1"]
    assert "35.0" in single and "±" not in single
    assert "0.100" in rows["cmnist", "1", "rest", "0.1", "3"]  # FLOPs ratio

    text = (out / "report.md").read_text()
    assert rows["cmnist", "1", "erm", "1", "2"] in text
    assert "## cmnist: bias-conflicting accuracy by conflict ratio" in text
    pngs = sorted((out / "plots").glob("*.png"))
    names = {p.name for p in pngs}
    for pct in ("1pct", "5pct"):
        for metric in ("conflicting", "unbiased", "worst_group", "accuracy", "groups"):
            assert f"cmnist-{pct}-{metric}.png" in names
            assert f"(plots/cmnist-{pct}-{metric}.png)" in text
    assert len(pngs) == 10
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC
        with Image.open(png) as image:
            image.verify()
            assert image.size[0] > 100 and image.size[1] > 100


def test_metric_missing_everywhere_gets_no_plot(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_run(root, "a", make_summary("erm", 1.0, 1, 0.5, sparse=False, worst=None))
    report = write_report(root)
    assert report.markdown == root / "report" / "report.md"
    names = {p.name for p in report.plots}
    assert "cmnist-1pct-worst_group.png" not in names
    assert "cmnist-1pct-conflicting.png" in names


def test_unfinished_and_damaged_runs_are_skipped_and_counted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "finished", make_summary("erm", 1.0, 1, 0.5, sparse=False))
    write_run(runs, "interrupted", None)
    damaged = write_run(runs, "damaged", None)
    (damaged / "summary.json").write_text("{not json")
    report = write_report(runs)
    assert len(report.collection.summaries) == 1
    assert [p.name for p in report.collection.unfinished] == ["interrupted"]
    assert [p.parent.name for p in report.collection.unreadable] == ["damaged"]
    text = report.markdown.read_text()
    assert "1 finished run(s)" in text
    assert "1 unfinished run(s) skipped" in text
    assert "1 unreadable or failed summary file(s) skipped" in text


def test_runs_of_one_seed_with_other_settings_are_flagged(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    write_run(root, "a", make_summary("erm", 1.0, 1, 0.5, sparse=False, lr=0.01))
    write_run(root, "b", make_summary("erm", 1.0, 1, 0.7, sparse=False, lr=0.1))
    text = write_report(root).markdown.read_text()
    assert "averages 2 runs over 1 seed(s); they differ in: optim.lr" in text


def test_heatmap_density_picks_the_nearest_per_method(runs: Path) -> None:
    groups = [g for g in group_runs(collect(runs).summaries) if g.conflict_pct == 1.0]
    default = {(g.method, g.density) for g in representative_groups(groups, None)}
    assert default == {("erm", 1.0), ("rest", 0.05)}
    chosen = {(g.method, g.density) for g in representative_groups(groups, 0.2)}
    assert chosen == {("erm", 1.0), ("rest", 0.1)}


def test_no_summaries_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    write_run(tmp_path / "runs", "interrupted", None)
    with pytest.raises(RestError, match="no finished runs"):
        write_report(tmp_path / "runs")
    assert main(["report", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rest: error: no finished runs under")
    assert len(err.strip().splitlines()) == 1
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
