"""The study's fixed protocol (issue 12): the grid it plans, the parts a selection
picks, values it refuses, and the tuned row built from rest tune's choices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from study_testing import protocol

from rest.config import replace
from rest.errors import RestError
from rest.tune.rerun import write_selection
from rest.tune.study import TuneDirectory, TuneSettings, study_name


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
