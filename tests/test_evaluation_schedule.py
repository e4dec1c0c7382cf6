"""Test-split evaluation only where a summary reads it: selected epochs and the last one."""

from __future__ import annotations

from rest.engine import fit
from rest.runs import RunDirectory

from training_testing import make_splits, tiny_config


def epochs_with_test(records: list[dict]) -> list[int]:
    return [r["epoch"] for r in records if "test" in r]


def run(tiny_splits, tmp_path, name: str, **run_fields):
    config = tiny_config(
        "erm", optim={"epochs": 6, "lr": 0.05, "scheduler": "none"}, run=run_fields
    )
    out = tmp_path / name
    summary = fit(config, tiny_splits, out=out, show_progress=False)
    return summary, RunDirectory(out).read_metrics()


def test_test_is_evaluated_at_selected_epochs_and_the_last_with_the_same_summary(
    tiny_splits, tmp_path
):
    summary, records = run(tiny_splits, tmp_path, "sparse")
    full_summary, full_records = run(tiny_splits, tmp_path, "full", test_every_epoch=True)

    assert epochs_with_test(full_records) == [1, 2, 3, 4, 5, 6]
    improved, best = [], None
    for record in records:
        valid = record["valid"]
        score = (valid["worst_group"], valid["accuracy"])
        if best is None or score > best:
            improved.append(record["epoch"])
            best = score
    assert epochs_with_test(records) == sorted(set(improved) | {6})
    assert len(epochs_with_test(records)) < 6  # the schedule saves evaluations here
    assert summary["selection"]["epoch"] in improved
    for key in ("selected", "last"):
        assert summary[key] == full_summary[key]
    for record, full in zip(records, full_records, strict=True):
        assert record["valid"] == full["valid"]
        assert record["eval_seconds"] >= 0


def test_without_validation_only_the_last_epoch_is_tested(tmp_path):
    splits = make_splits(valid=False)
    summary, records = run(splits, tmp_path, "novalid")
    assert epochs_with_test(records) == [6]
    assert summary["selected"]["test"] == records[-1]["test"]
