"""The study (issue 12): the fixed protocol's plan, the verdict rule, the report on
hand-made summaries (PARTIAL marking, traceable links), and one smoke run end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from rest.config import replace
from rest.errors import RestError
from rest.report.collect import Stat
from rest.report.study import write_study_report
from rest.report.study_grid import PlannedRun, SkippedPart
from rest.report.study_plots import pareto_front
from rest.report.study_tables import verdict
from rest.runs import RunLock
from rest.tune.rerun import write_selection
from rest.tune.study import TuneDirectory, TuneSettings, study_name

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load_script() -> ModuleType:
    if str(ROOT / "benchmarks") not in sys.path:  # the script imports its sibling modules
        sys.path.append(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("study_script", ROOT / "benchmarks/study.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


study = _load_script()
protocol = importlib.import_module("study_protocol")
cost = importlib.import_module("study_cost")


# ---- the protocol's plan ----


def _counts(selection: Any, tuned: Path | None = None) -> tuple[dict[tuple[str, ...], int], list]:
    blocks, skipped = protocol.plan_blocks(protocol.BUDGETS["cpu"], selection, Path("runs"), tuned)
    counts: dict[tuple[str, ...], int] = {}
    for run in protocol.planned_runs(blocks):
        key = (run.row, run.dataset, f"{run.conflict_pct:g}", run.method)
        counts[key] = counts.get(key, 0) + 1
    return counts, skipped


def test_full_grid_is_the_protocol_of_the_issue() -> None:
    counts, skipped = _counts(protocol.Selection())
    # per (dataset, ratio): 5 dense methods x 3 seeds, sparse-only 1 density x 3 seeds,
    # REST 6 densities x 3 seeds = 36 runs; 4 + 4 + 1 (dataset, ratio) parts
    assert sum(counts.values()) == 9 * 36 == 324
    for dataset, pcts in (("cfmnist", "0.5 1 2 5"), ("corrupted", "0.5 1 2 5"), ("cmnist", "1")):
        for pct in pcts.split():
            part = {k[3]: n for k, n in counts.items() if k[1:3] == (dataset, pct)}
            assert part == {
                "erm": 3,
                "reweight": 3,
                "sparse": 3,
                "rest": 18,
                "jtt": 3,
                "groupdro": 3,
                "lff": 3,
            }
    # nothing tuned: the whole tuned row, each (method, density), is listed as not planned
    assert len(skipped) == 9 * 12
    assert {part.row for part in skipped} == {"tuned"}
    assert all("run study.py --tune" in part.reason for part in skipped)


def test_parts_of_the_grid_and_their_densities() -> None:
    selection = protocol.Selection(
        datasets=("cfmnist",), pcts=(1.0, 5.0), methods=("sparse", "rest", "erm"), rows=("default",)
    )
    blocks, _ = protocol.plan_blocks(protocol.BUDGETS["gpu"], selection, Path("runs"))
    runs = protocol.planned_runs(blocks)
    assert len(runs) == 2 * 3 * (1 + 1 + 6)
    assert {r.density for r in runs if r.method == "sparse"} == {0.1}
    assert {r.density for r in runs if r.method == "rest"} == set(protocol.REST_DENSITIES)
    assert {r.density for r in runs if r.method == "erm"} == {1.0}
    assert {r.seed for r in runs} == {41, 42, 43}
    assert all(block.base.optim.epochs == 100 for block in blocks)
    assert all(r.path.parent == Path("runs/default/cfmnist") for r in runs)
    only = protocol.Selection(
        datasets=("cmnist",), methods=("rest",), densities=(0.01,), seeds=(41,)
    )
    counts, _ = _counts(only)
    assert counts == {("default", "cmnist", "1", "rest"): 1}


@pytest.mark.parametrize(
    "field, value",
    [("pcts", (3.0,)), ("densities", (0.3,)), ("methods", ("dro",)), ("seeds", (7,))],
)
def test_values_outside_the_protocol_are_refused(field: str, value: tuple) -> None:
    with pytest.raises(RestError, match=f"--{field}: .* is not in the study protocol"):
        protocol.Selection(**{field: value})


def _tuning_dir(root: Path, pct: float, choices: list[tuple[str, float, dict]]) -> Path:
    """A rest tune directory of cfmnist at ``pct`` (tuned at 7 epochs) holding ``choices``."""
    budget = protocol.BUDGETS["cpu"]
    base = replace(
        protocol.base_config(budget, "cfmnist", None, "auto", 7), **{"data.conflict_pct": pct}
    )
    directory = TuneDirectory(protocol.tune_path(root, "cfmnist", pct))
    directory.open(TuneSettings(base=base.to_dict()))
    trials = {"complete": 3, "pruned": 0, "failed": 0}
    selections = [
        {"study": study_name(m, d), "method": m, "density": d, "params": p, "trials": trials}
        for m, d, p in choices
    ]
    write_selection(directory.path, selections)
    return directory.path


def test_tuned_row_takes_each_densitys_choice_but_keeps_budget_data_and_model(
    tmp_path: Path,
) -> None:
    rest_01 = {"optim.lr": 0.123, "sparse.alpha": 0.25, "reweight.lambda_up": 12.0}
    _tuning_dir(
        tmp_path / "tune",
        1.0,
        [
            ("rest", 0.1, rest_01),
            ("rest", 0.01, {"optim.lr": 0.05}),
            ("erm", 1.0, {"optim.lr": 0.2}),
        ],
    )
    selection = protocol.Selection(datasets=("cfmnist",), rows=("tuned",))
    blocks, skipped = protocol.plan_blocks(protocol.BUDGETS["cpu"], selection, tmp_path)
    runs = protocol.planned_runs(blocks)
    assert len(runs) == 3 * 3 and {r.conflict_pct for r in runs} == {1.0}
    by_cell = {(b.methods, tuple(b.densities)): b.base for b in blocks}
    assert set(by_cell) == {(("rest",), (0.1,)), (("rest",), (0.01,)), (("erm",), (1.0,))}
    rest = by_cell[("rest",), (0.1,)]
    assert rest.optim.lr == 0.123 and rest.sparse.alpha == 0.25
    assert rest.reweight.lambda_up == 12.0
    assert by_cell[("rest",), (0.01,)].optim.lr == 0.05  # its own choice, not 0.1's
    assert by_cell[("erm",), (1.0,)].optim.lr == 0.2
    for base in by_cell.values():
        assert base.optim.epochs == 20  # the budget's, not the tuning's 7
        assert base.model.width is None and base.data.dataset == "cfmnist"
    assert {(r.method, r.density) for r in runs} == {("rest", 0.1), ("rest", 0.01), ("erm", 1.0)}
    assert all(r.path.parent == tmp_path / "tuned" / "cfmnist" for r in runs)
    # the cell's other studies, and the cells never tuned, are listed with their reason
    at_1pct = [p for p in skipped if p.conflict_pct == 1.0]
    assert len(at_1pct) == 12 - 3
    assert any("no choice at density 0.5 in" in p.reason for p in at_1pct)
    assert any(p.method == "groupdro" and "no choice in" in p.reason for p in at_1pct)
    others = [p for p in skipped if p.conflict_pct != 1.0]
    assert len(others) == 3 * 12 and all("run study.py --tune" in p.reason for p in others)


def test_two_tuning_directories_for_one_cell_are_refused(tmp_path: Path) -> None:
    first = _tuning_dir(tmp_path / "tune", 1.0, [("erm", 1.0, {"optim.lr": 0.2})])
    copy = tmp_path / "tune" / "again"
    copy.mkdir()
    (copy / "tune.json").write_text((first / "tune.json").read_text())
    with pytest.raises(RestError, match=r"two tuning directories for cfmnist at 1% .* keep one"):
        protocol.tuned_choices(tmp_path / "tune")


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
        "last": {"epoch": 9, "test": {**test, "conflicting": 0.0}},  # must not be read
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


def _squash(text: str) -> str:
    """The report with the padding of its table cells collapsed to single spaces."""
    return re.sub(r" {2,}", " ", text)


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
    text = _squash(report.markdown.read_text())
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
    assert "| 3, 4, 5 | 41 ± 1 |" in rest_row
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
    text = _squash(report.markdown.read_text())
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


def test_tune_dry_run_counts_the_search_and_bad_tune_flags_are_refused(tmp_path, capsys) -> None:
    argv = ["--budget", "gpu", "--datasets", "cfmnist", "--pcts", "1", "5", "--tune"]
    argv += ["--trials", "7", "--runs", str(tmp_path / "runs")]
    assert study.main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    # 2 ratios x (5 dense methods + sparse-only + REST's 6 densities) studies x 7 trials
    assert "tune: 2 part(s) x 12 studies x 7 trials = at most 168 trial runs" in out
    assert not (tmp_path / "runs").exists()  # a dry run writes nothing
    assert study.main([*argv, "--report-only"]) == 2
    assert "--tune trains" in capsys.readouterr().err
    typo = ["--budget", "gpu", "--dry-run", "--tuned", str(tmp_path / "tunes")]
    assert study.main(typo) == 2
    assert f"--tuned {tmp_path / 'tunes'} does not exist" in capsys.readouterr().err


# ---- end to end, on tiny generated data ----


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _tiny_fashion(directory: Path, per_class: int = 40, size: int = 12) -> Path:
    """Fashion-MNIST-format IDX files: a bar whose row encodes the class, on noise."""
    directory.mkdir()
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("t10k", per_class // 4)):
        labels = np.tile(np.arange(10), count).astype(np.uint8)
        images = rng.integers(0, 40, size=(len(labels), size, size), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, label, 1:-1] = 220
        _write_idx(directory / f"{split}-images-idx3-ubyte", images)
        _write_idx(directory / f"{split}-labels-idx1-ubyte", labels)
    return directory


def test_smoke_run_end_to_end_resumes_and_reports(tmp_path: Path, capsys) -> None:
    source = _tiny_fashion(tmp_path / "fashion")
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "5", "--methods"]
    argv += ["reweight", "rest", "--densities", "0.1", "--seeds", "41", "42", "--rows", "default"]
    argv += ["--source", str(source), "--runs", str(runs), "--results", str(results)]
    argv += ["--device", "cpu", "--workers", "0"]
    assert study.main(argv) == 0
    summaries = sorted(runs.glob("default/cfmnist/*/summary.json"))
    assert len(summaries) == 4
    first = {path: path.stat().st_mtime_ns for path in summaries}
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["epochs"] == 1 and summary["config"]["model"]["width"] == 8
        assert summary["config"]["data"]["source"] == str(source)
    text = _squash((results / "report.md").read_text())
    assert "budget `smoke`" in text
    assert "**PARTIAL**: 4 of 324 planned runs finished" in text
    assert "| cfmnist | 5 | default | 0.1 |" in text  # the verdict row
    assert f"--pcts 5 --source {source}" in text
    assert (results / "plots" / "cfmnist-5pct-conflicting-vs-density.png").is_file()
    # the sweep resumes: a second call trains nothing and rewrites the same report
    assert study.main(argv) == 0
    assert {path: path.stat().st_mtime_ns for path in summaries} == first
    assert "report:" in capsys.readouterr().out


def test_tune_then_tuned_row_end_to_end_and_resumed(tmp_path: Path, capsys) -> None:
    pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")
    source = _tiny_fashion(tmp_path / "fashion")
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "5", "--methods", "erm"]
    argv += ["rest", "--densities", "0.1", "--seeds", "41", "--rows", "tuned", "--tune"]
    argv += ["--trials", "2", "--source", str(source), "--runs", str(runs)]
    argv += ["--results", str(results), "--device", "cpu", "--workers", "0"]
    assert study.main(argv) == 0
    selected = json.loads((runs / "tune" / "cfmnist-5pct" / "selected.json").read_text())
    assert set(selected) == {"erm", "rest-d0.1"}
    for choice in selected.values():
        assert sum(choice["trials"].values()) == 2
    summaries = sorted(runs.glob("tuned/cfmnist/*/summary.json"))
    assert len(summaries) == 2
    for path in summaries:
        config = json.loads(path.read_text())["config"]
        study_of = "erm" if config["method"] == "erm" else "rest-d0.1"
        for field, value in selected[study_of]["params"].items():
            section, name = field.split(".")
            assert config[section][name] == value, field  # the chosen value was trained
        assert config["optim"]["epochs"] == 1 and config["run"]["seed"] == 41
    report = _squash((results / "report.md").read_text())
    assert "REST (tuned)" in report
    # a second call continues the studies up to --trials (none left) and trains nothing
    first = {path: path.stat().st_mtime_ns for path in summaries}
    assert study.main(argv) == 0
    again = json.loads((runs / "tune" / "cfmnist-5pct" / "selected.json").read_text())
    assert all(sum(c["trials"].values()) == 2 for c in again.values())
    assert {path: path.stat().st_mtime_ns for path in summaries} == first
    # a search with other settings is refused, not mixed into the same studies
    capsys.readouterr()
    assert study.main([*argv, "--tune-epochs", "3"]) == 2
    assert "other settings (base.optim.epochs: saved 1, now 3)" in capsys.readouterr().err


def test_a_cell_left_without_a_choice_does_not_hold_up_the_others(tmp_path: Path, capsys) -> None:
    """A study with no completed trial in one cell: the later cells are tuned, every saved
    choice is trained, and the command names the cell and exits 1."""
    optuna = pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from rest.tune import TuneDirectory

    source = _tiny_fashion(tmp_path / "fashion")
    runs = tmp_path / "runs"
    # cfmnist 1%'s REST study spent its one trial on a failure before the search started
    failed = optuna.create_study(
        study_name="rest-d0.1",
        storage=TuneDirectory(runs / "tune" / "cfmnist-1pct").storage(),
        direction="maximize",
    )
    lr = FloatDistribution(1e-4, 1e-1, log=True)
    failed.add_trial(
        create_trial(
            state=TrialState.FAIL, params={"optim.lr": 0.05}, distributions={"optim.lr": lr}
        )
    )
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "1", "5", "--methods"]
    argv += ["erm", "rest", "--densities", "0.1", "--seeds", "41", "--rows", "tuned", "--tune"]
    argv += ["--trials", "1", "--source", str(source), "--runs", str(runs)]
    argv += ["--results", str(tmp_path / "results"), "--device", "cpu", "--workers", "0"]
    assert study.main(argv) == 1
    err = capsys.readouterr().err
    assert "not fully tuned: cfmnist 1%: no trial completed" in err and "rest-d0.1" in err
    chosen = {
        pct: set(json.loads((runs / "tune" / f"cfmnist-{pct}pct" / "selected.json").read_text()))
        for pct in (1, 5)
    }
    assert chosen == {1: {"erm"}, 5: {"erm", "rest-d0.1"}}
    trained = sorted(
        (s["config"]["data"]["conflict_pct"], s["config"]["method"])
        for s in map(json.loads, map(Path.read_text, runs.glob("tuned/cfmnist/*/summary.json")))
    )
    assert trained == [(1.0, "erm"), (5.0, "erm"), (5.0, "rest")]


def test_a_run_busy_in_another_process_is_reported_not_counted_done(tmp_path: Path, capsys) -> None:
    source = _tiny_fashion(tmp_path / "fashion")
    runs = tmp_path / "runs"
    argv = ["--budget", "smoke", "--datasets", "cfmnist", "--pcts", "5", "--methods", "erm"]
    argv += ["--seeds", "41", "--rows", "default", "--source", str(source), "--runs", str(runs)]
    argv += ["--results", str(tmp_path / "results"), "--device", "cpu", "--workers", "0"]
    selection = protocol.Selection(
        datasets=("cfmnist",), pcts=(5.0,), methods=("erm",), seeds=(41,), rows=("default",)
    )
    blocks, _ = protocol.plan_blocks(protocol.BUDGETS["smoke"], selection, runs, source=str(source))
    (planned,) = protocol.planned_runs(blocks)
    lock = RunLock(planned.path).acquire()  # as a second study training the same run
    try:
        assert study.main(argv) == 1
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "busy: " in err and "1 run(s) busy in another process" in err
    assert not (planned.path / "summary.json").exists()
    assert study.main(argv) == 0  # once it is free, the same command trains it
    assert (planned.path / "summary.json").is_file()


# ---- one slot on a machine that is handed back: run, stop at a deadline, pack ----

SLOT = ROOT / "benchmarks" / "study_slot.sh"


def _slot(seconds: int, runs: Path, bundle: Path, *study_args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    argv = ["bash", str(SLOT), str(seconds), str(runs), str(bundle), *study_args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def _members(bundle: Path) -> list[str]:
    with tarfile.open(bundle) as archive:
        return sorted(m.name.removeprefix("./") for m in archive.getmembers() if m.isfile())


def test_slot_packs_finished_runs_and_a_later_slot_skips_them(tmp_path: Path) -> None:
    source = _tiny_fashion(tmp_path / "fashion")
    runs, bundle = tmp_path / "runs", tmp_path / "out" / "study.tar.gz"
    study_args = ["--budget", "smoke", "--device", "cpu", "--workers", "0"]
    study_args += ["--datasets", "cfmnist", "--pcts", "5", "--methods", "erm", "rest"]
    study_args += ["--densities", "0.1", "--seeds", "41", "--rows", "default"]
    study_args += ["--source", str(source), "--results", str(tmp_path / "results")]
    done = _slot(600, runs, bundle, *study_args)
    assert done.returncode == 0, done.stderr
    assert "2 finished run(s) and 0 finished trial(s) packed" in done.stdout
    members = _members(bundle)
    names = sorted({Path(m).name for m in members})
    assert names == ["config.json", "log.txt", "metrics.jsonl", "summary.json"]
    assert len(members) == 8 and all(m.startswith("default/cfmnist/") for m in members)
    assert sum(path.stat().st_size for path in runs.rglob("*.pt")) > 0  # left behind

    # back home: the bundle alone rebuilds the report, and resumes the next slot
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["tar", "-xzf", str(bundle), "-C", str(home)], check=True)
    results = tmp_path / "home-results"
    argv = ["--budget", "smoke", "--report-only", "--runs", str(home), "--results", str(results)]
    argv += ["--source", str(source)]
    assert study.main(argv) == 0
    assert "2 of 324 planned runs finished" in _squash((results / "report.md").read_text())
    summaries = {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")}
    again = _slot(600, home, tmp_path / "again.tar.gz", *study_args)
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")} == summaries
    assert _members(tmp_path / "again.tar.gz") == members


def test_slot_packs_the_search_so_the_next_slot_continues_it(tmp_path: Path) -> None:
    pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")
    source = _tiny_fashion(tmp_path / "fashion")
    runs, bundle = tmp_path / "runs", tmp_path / "out" / "study.tar.gz"
    study_args = ["--budget", "smoke", "--device", "cpu", "--workers", "0", "--tune"]
    study_args += ["--trials", "2", "--datasets", "cfmnist", "--pcts", "5", "--methods", "erm"]
    study_args += ["--seeds", "41", "--rows", "tuned", "--source", str(source)]
    study_args += ["--results", str(tmp_path / "results")]
    done = _slot(600, runs, bundle, *study_args)
    assert done.returncode == 0, done.stderr
    assert "1 finished run(s) and 2 finished trial(s) packed" in done.stdout
    members = _members(bundle)
    cell = "tune/cfmnist-5pct/"
    assert {m for m in members if m.count("/") == 2} == {
        cell + name for name in ("journal.log", "selected.json", "tune.json")
    }
    assert sum(m.startswith(cell + "trials/erm/") for m in members) == 2 * 4
    assert not any("heartbeats" in m or m.endswith(".pt") for m in members)

    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["tar", "-xzf", str(bundle), "-C", str(home)], check=True)
    summaries = {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")}
    again = _slot(600, home, tmp_path / "again.tar.gz", *study_args)
    assert again.returncode == 0, again.stderr
    assert "trials 2 complete" in again.stdout  # the journal came back: no third trial
    assert {p: p.stat().st_mtime_ns for p in home.rglob("summary.json")} == summaries


def test_slot_past_its_deadline_still_hands_back_a_bundle(tmp_path: Path) -> None:
    source = _tiny_fashion(tmp_path / "fashion")
    bundle = tmp_path / "study.tar.gz"
    study_args = ["--budget", "smoke", "--device", "cpu", "--datasets", "cfmnist"]
    study_args += ["--pcts", "5", "--source", str(source), "--results", str(tmp_path / "r")]
    done = _slot(1, tmp_path / "runs", bundle, *study_args)
    assert done.returncode == 0, done.stderr
    assert (
        "deadline" in done.stdout
        and "0 finished run(s) and 0 finished trial(s) packed" in done.stdout
    )
    assert _members(bundle) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["10", "runs"], "usage:"),
        (["1.5", "r", "b.tar.gz"], "SECONDS"),
        (["5", "r", "b.zip"], "BUNDLE"),
    ],
)
def test_slot_refuses_bad_arguments(tmp_path: Path, arguments: list[str], message: str) -> None:
    done = subprocess.run(
        ["bash", str(SLOT), *arguments], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and message in done.stderr
    assert done.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []


# ---- the cost estimate ----


def test_cost_estimate_from_one_epoch_measurements(tmp_path: Path) -> None:
    """REST measured on cfmnist at 100 CPU s per training epoch and no overhead: a run of
    the cpu budget (20 epochs) costs 2000 CPU s, JTT 200 more for its 2 ERM epochs, ERM
    (measured itself at 50 s) 1000;
    corrupted (not measured) is scaled by the ResNet-18 / CNN FLOPs ratio."""
    walls = {}
    measured = (("cfmnist", "rest", 100.0), ("cmnist", "rest", 4.0), ("cfmnist", "erm", 50.0))
    for dataset, method, cpu in measured:
        key = f"{dataset}/{method}-run"
        (tmp_path / key).mkdir(parents=True)
        summary = {"dataset": dataset, "method": method, "time": {"seconds_per_epoch": cpu}}
        (tmp_path / key / "summary.json").write_text(json.dumps(summary))
        walls[key] = {"wall_seconds": cpu, "cpu_seconds": cpu, "load_average": [1.0, 1.0]}
    (tmp_path / cost.WALLS_FILE).write_text(json.dumps(walls))
    (tmp_path / "corrupted").mkdir()
    generating = {"cpu_seconds": 500.0, "wall_seconds": 600.0, "load_average": [1.0, 1.0]}
    (tmp_path / "corrupted" / cost.DATA_PREPARATION_FILE).write_text(json.dumps(generating))
    args = study.parse_args(["--estimate", "--measure-dir", str(tmp_path)])
    text = _squash(cost.estimate(args, protocol.BUDGETS["cpu"]))
    # 66 runs x 2000 s + 6 ERM runs x 1000 s (measured itself) + 6 JTT runs x 200 s
    assert "| cfmnist 1% and 5% | 72 | 38.7 |" in text
    assert "| cfmnist, all its ratios | 144 | 77.3 |" in text
    ratio = cost._model_flops("corrupted") / cost._model_flops("cfmnist")
    corrupted = 144 * (500 + 20 * 100 * ratio) + 12 * 2 * 100 * ratio
    assert f"| corrupted, all its ratios | 144 | {corrupted / 3600:.1f} |" in text
    assert "setup: cfmnist's plus 500 CPU s measured generating corrupted" in text
    assert f"corrupted: training not measured; cfmnist's REST epoch x {ratio:.1f}" in text
    # the tuned row's searches: --trials runs per (method, density) where the row has 3
    whole = float(re.search(r"\| whole grid, default row \| 324 \| ([0-9.]+) \|", text)[1])
    assert _search_hours(text) == pytest.approx(whole * 20 / 3, abs=0.6)  # default: 20 trials
    args = study.parse_args(["--estimate", "--measure-dir", str(tmp_path), "--trials", "6"])
    text = _squash(cost.estimate(args, protocol.BUDGETS["cpu"]))
    assert _search_hours(text) == pytest.approx(whole * 2, abs=0.6)


def _search_hours(text: str) -> float:
    found = re.search(r"cost at most ([0-9.]+) CPU-hours", text)
    assert found is not None, text
    return float(found[1])
