"""The tuned row of the study: ``rest tune`` searches, the study trains the choices.

``study.py --tune`` runs, for each selected (dataset, ratio), one tuning directory
``RUNS/tune/<dataset>-<pct>pct`` in the layout of ``rest tune --out``: an Optuna study
per planned (method, density) -- REST at each of its densities, sparse-only at 0.1,
the dense methods once -- with the same number of trials for every study, trained at
the study's budget (or ``--tune-epochs``) and judged on the validation split only.
It stops at the choices (``selected.json``): the tuned row then trains each chosen
configuration over the study's seeds at the study's budget, beside the default row,
so the seeds and epochs of both rows are the same and ``rest tune``'s own reruns
would be duplicates.

Every density has its own choice, as ``rest tune`` makes it: a row of the table is
one (method, density), and each row gets the same trial budget.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rest.config import replace
from rest.errors import RestError
from rest.runs import read_json
from rest.tune import StudiesWithoutChoice, TuneSettings, search
from rest.tune.study import SELECTED_FILE
from study_protocol import Budget, Selection, base_config, tune_path

DEFAULT_TRIALS = 20


def tuning_pairs(selection: Selection) -> list[tuple[str, float]]:
    """(method, density) of every study of one cell: the planned densities of each method."""
    return [(m, d) for m in selection.methods for d in selection.densities_of(m)]


def run_tuning(
    budget: Budget,
    selection: Selection,
    tune_root: Path,
    trials: int,
    epochs: int | None = None,
    source: str | None = None,
    device: str = "auto",
    workers: int = 1,
) -> tuple[list[Path], list[str]]:
    """Search every selected cell up to ``trials`` trials per study (a rerun continues
    the studies, never beyond ``trials``) and save each study's choice; return the
    tuning directories and the cells left with a study that has no choice (no trial
    completed). Such a cell is reported at once and the later cells are still tuned;
    its other studies' choices are saved, so the tuned row trains those."""
    if trials < 1:
        raise RestError(f"--trials must be >= 1, got {trials}")
    pairs = tuning_pairs(selection)
    if not pairs:
        raise RestError("nothing to tune: the selected methods and densities plan no run")
    written: list[Path] = []
    problems: list[str] = []
    for dataset in selection.datasets:
        for pct in selection.pcts_of(dataset):
            base = replace(
                base_config(budget, dataset, source, device, epochs), **{"data.conflict_pct": pct}
            )
            path = tune_path(tune_root, dataset, pct)
            print(f"tuning {dataset} {pct:g}%: {len(pairs)} studies x {trials} trials -> {path}")
            try:
                search(TuneSettings(base=base.to_dict()), path, pairs, trials, workers=workers)
            except StudiesWithoutChoice as error:  # the next cells are still tuned
                print(f"not fully tuned: {dataset} {pct:g}%: {error}", file=sys.stderr)
                problems.append(f"{dataset} {pct:g}%")
            written.append(path)
    return written, problems


def trial_budget(directories: Sequence[Path]) -> dict[str, int]:
    """Completed, pruned and failed trials summed over the studies of ``directories``."""
    totals = {"complete": 0, "pruned": 0, "failed": 0}
    for path in directories:
        selected = path / SELECTED_FILE
        for choice in (read_json(selected) if selected.is_file() else {}).values():
            for state, count in choice["trials"].items():
                totals[state] += count
    return totals
