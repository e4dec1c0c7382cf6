"""The tuning table (DomainBed style): tuned vs published defaults, same seeds.

For every study of a tuning directory (a method, at one density for the sparse
ones) two rows: the hyperparameters chosen on validation with the test metrics
of their reruns, mean ± sample std over seeds, and the same method at its
published defaults on the same seeds. The validation column is the metric the
selection maximised. Reads only files (``selected.json`` and the reruns'
``summary.json``), so it needs no Optuna.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.errors import RestError
from rest.report.collect import METRICS, SPLIT, Stat
from rest.runs import atomic_write, read_json
from rest.tables import markdown_table

KINDS = ("tuned", "defaults")


@dataclass
class TuningRow:
    """One row: a study's tuned or defaults runs (one summary per seed)."""

    study: str
    method: str
    density: float
    kind: str
    params: dict[str, Any]
    objective: str
    summaries: list[dict[str, Any]] = field(default_factory=list)
    trials: dict[str, int] | None = None

    def _selected(self, split: str, name: str) -> Stat:
        return Stat.of(
            ((s.get("selected") or {}).get(split) or {}).get(name) for s in self.summaries
        )

    def valid(self) -> Stat:
        """The selection objective on validation at each rerun's selected epoch."""
        return self._selected("valid", self.objective.removeprefix("valid "))

    def test(self, name: str) -> Stat:
        return self._selected(SPLIT, name)

    @property
    def seeds(self) -> list[Any]:
        return sorted(s.get("seed") for s in self.summaries)


def format_params(params: dict[str, Any]) -> str:
    """``lr=0.0123 weight_decay=1.2e-05 batch_size=64`` (field names without section)."""
    parts = []
    for path, value in params.items():
        name = path.rsplit(".", 1)[-1]
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={text}")
    return " ".join(parts)


def _summaries(path: Path) -> list[dict[str, Any]]:
    if not path.is_dir():
        return []
    return [read_json(p) for p in sorted(path.glob("*/summary.json"))]


def _resolved_values(method: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The tuned fields' values a run trained with; ``lambda_up`` left automatic in the
    config is read from the run's reweighting report."""
    from rest.tune.spaces import tuned_values

    values = tuned_values(method, summary["config"])
    if values.get("reweight.lambda_up", 0) is None:
        values["reweight.lambda_up"] = (summary.get("reweight") or {}).get("lambda_up")
    return values


def collect_tuning(tune_dir: str | Path) -> list[TuningRow]:
    """The tuned and defaults rows of every selected study under ``tune_dir``."""
    tune_dir = Path(tune_dir)
    selected_path = tune_dir / "selected.json"
    if not selected_path.is_file():
        raise RestError(
            f"{tune_dir} holds no selected.json; run rest tune (it selects after the search)"
        )
    rows = []
    for study, selection in read_json(selected_path).items():
        method, density = selection["method"], float(selection["density"])
        tuned = TuningRow(
            study,
            method,
            density,
            "tuned",
            dict(selection["params"]),
            selection["objective"],
            _summaries(tune_dir / "reruns" / "tuned" / study),
            selection.get("trials"),
        )
        defaults_runs = _summaries(tune_dir / "reruns" / "defaults" / study)
        defaults_params = _resolved_values(method, defaults_runs[0]) if defaults_runs else {}
        defaults = TuningRow(
            study, method, density, "defaults", defaults_params, tuned.objective, defaults_runs
        )
        rows += [tuned, defaults]
    return rows


def tuning_table(rows: Sequence[TuningRow]) -> str:
    """The Markdown table: method, density, which row, hyperparameters, trials, seeds,
    validation objective and the test metrics, mean ± std over seeds."""
    headers = [
        "method",
        "density",
        "hyperparameters",
        "trials (done/pruned/failed)",
        "seeds",
        "valid objective",
        *(f"test {label}" for label in METRICS.values()),
    ]
    table_rows = []
    for row in rows:
        tally = row.trials
        table_rows.append(
            [
                f"{row.method} ({row.kind})",
                f"{row.density:g}",
                format_params(row.params) or "-",
                f"{tally['complete']}/{tally['pruned']}/{tally['failed']}" if tally else "-",
                len(row.summaries),
                row.valid().format(),
                *(row.test(name).format() for name in METRICS),
            ]
        )
    return markdown_table(headers, table_rows)


def history_table(history: Sequence[dict[str, Any]]) -> str:
    """Every trial of a study: state, validation objective, last epoch, parameters."""
    rows = [
        [
            entry["trial"],
            entry["state"],
            "-" if entry["value"] is None else f"{100 * entry['value']:.1f}",
            "-" if entry.get("last_epoch") is None else entry["last_epoch"],
            format_params(entry["params"]),
        ]
        for entry in history
    ]
    return markdown_table(["trial", "state", "valid objective", "epochs", "parameters"], rows)


def _history_sections(tune_dir: Path) -> list[str]:
    lines = []
    for study, selection in read_json(tune_dir / "selected.json").items():
        if selection.get("history"):
            lines += [
                f"## Trials of {study} (chosen: trial {selection['trial']})",
                "",
                history_table(selection["history"]),
                "",
            ]
    return lines


def write_tuning_report(tune_dir: str | Path) -> tuple[Path, str]:
    """Write ``TUNE_DIR/report.md``; returns its path and the table."""
    from rest.tune.spaces import space_table

    tune_dir = Path(tune_dir)
    rows = collect_tuning(tune_dir)
    if not any(row.summaries for row in rows):
        raise RestError(f"no rerun under {tune_dir}/reruns has finished; run rest tune again")
    table = tuning_table(rows)
    objectives = sorted({row.objective for row in rows})
    methods = sorted({row.method for row in rows})
    lines = [
        f"# Tuning: {tune_dir.name}",
        "",
        "Each method's hyperparameters were chosen on the validation split only "
        f"({', '.join(objectives)} at the epoch selected on validation), with an equal "
        "trial budget per method; the chosen configuration and the published defaults "
        "were then retrained over the same seeds. Test metrics (%) at the epoch selected "
        "on validation, mean ± sample std over seeds.",
        "",
        table,
        "",
        *_history_sections(tune_dir),
        "## Search spaces",
        "",
        markdown_table(["method", "field", "range", "published / why"], space_table(methods)),
        "",
    ]
    path = tune_dir / "report.md"
    atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines)))
    return path, table
