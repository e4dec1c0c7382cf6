"""The study's cost estimate (CPU-hours) from one-epoch measurement runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from study_testing import cost, protocol, squash, study


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
    text = squash(cost.estimate(args, protocol.BUDGETS["cpu"]))
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
    text = squash(cost.estimate(args, protocol.BUDGETS["cpu"]))
    assert _search_hours(text) == pytest.approx(whole * 2, abs=0.6)


def _search_hours(text: str) -> float:
    found = re.search(r"cost at most ([0-9.]+) CPU-hours", text)
    assert found is not None, text
    return float(found[1])
