"""A tuning directory: its settings, its studies, and where every run lands.

::

    TUNE_DIR/
      tune.json                  the search settings (base config, objective, pruner, seed)
      journal.log                the Optuna study of every (method, density), a JournalStorage
                                 file that processes and Slurm array tasks on a shared
                                 filesystem append to
      heartbeats/<study>/<n>     touched while trial n trains; a stale one marks a dead worker
      trials/<study>/<run>/      one normal run directory per trial (config.json, summary.json)
      selected.json              the trial chosen on validation for each study
      reruns/tuned/<study>/<run>/     the chosen configuration, once per seed
      reruns/defaults/<study>/<run>/  the same method at its published defaults, same seeds
      report.md                  the tuning table

Optuna is imported lazily, so ``rest`` works without the ``tune`` extra until a
tuning command runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest.config import TrainConfig
from rest.errors import RestError
from rest.methods import METHODS
from rest.runs import read_json, write_json
from rest.tables import flatten

OBJECTIVES = ("auto", "worst_group", "accuracy", "unbiased")
PRUNERS = ("median", "none")
SETTINGS_FILE = "tune.json"
JOURNAL_FILE = "journal.log"
SELECTED_FILE = "selected.json"


@dataclass
class TuneSettings:
    """What every trial of a tuning directory shares; fixed once the directory exists.

    ``base`` is the config of the published-defaults row; a trial overrides only its
    method's tuned fields. ``objective`` ``auto`` is validation worst-group accuracy
    when the validation split has bias labels, else validation accuracy.
    """

    base: dict[str, Any] = field(default_factory=lambda: TrainConfig().to_dict())
    objective: str = "auto"
    pruner: str = "median"
    prune_warmup_epochs: int = 1
    sampler_seed: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise RestError(
                f"unknown --objective {self.objective!r}; choose one of: {', '.join(OBJECTIVES)}"
            )
        if self.pruner not in PRUNERS:
            raise RestError(f"unknown --pruner {self.pruner!r}; choose median or none")
        if self.prune_warmup_epochs < 0:
            raise RestError(f"--prune-warmup-epochs must be >= 0, got {self.prune_warmup_epochs}")
        base = TrainConfig.from_dict(self.base)
        if base.sparse.update_frequency is not None:
            raise RestError(
                "rest tune tunes the mask-update interval through --target-updates; "
                "leave --update-frequency automatic"
            )
        self.base = base.to_dict()

    @property
    def base_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.base)


def study_name(method: str, density: float) -> str:
    """``rest-d0.1`` for a sparse method, ``reweight`` for a dense one."""
    return f"{method}-d{density:g}" if METHODS.get(method).sparse else method


class TuneDirectory:
    """Paths and files of one tuning directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.settings_path = self.path / SETTINGS_FILE
        self.journal = self.path / JOURNAL_FILE
        self.selected_path = self.path / SELECTED_FILE
        self.report_path = self.path / "report.md"

    def trials(self, study: str) -> Path:
        return self.path / "trials" / study

    def heartbeat(self, study: str, number: int) -> Path:
        return self.path / "heartbeats" / study / str(number)

    def reruns(self, kind: str, study: str) -> Path:
        return self.path / "reruns" / kind / study

    def open(self, settings: TuneSettings | None = None) -> TuneSettings:
        """Create the directory with ``settings``, or read (and check) the saved ones.

        Resuming with other search settings would mix two searches in one study, so
        it is refused; the budget, methods, densities and seeds may change.
        """
        if self.path.exists() and not self.path.is_dir():
            raise RestError(f"tuning directory {self.path} is a file; choose another --out")
        if self.settings_path.is_file():
            saved = TuneSettings(**read_json(self.settings_path))
            if settings is not None and dataclasses.asdict(saved) != dataclasses.asdict(settings):
                difference = self._difference(saved, settings)
                raise RestError(
                    f"{self.path} holds a search with other settings ({difference}); "
                    "rerun with the same settings, or move the directory away to start a new search"
                )
            return saved
        if settings is None:
            raise RestError(f"{self.path} is not a tuning directory (no {SETTINGS_FILE})")
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.settings_path, dataclasses.asdict(settings))
        return settings

    @staticmethod
    def _difference(saved: TuneSettings, new: TuneSettings) -> str:
        old_values, new_values = (
            flatten(dataclasses.asdict(saved)),
            flatten(dataclasses.asdict(new)),
        )
        for key in sorted(set(old_values) | set(new_values)):
            if old_values.get(key) != new_values.get(key):
                return f"{key}: saved {old_values.get(key)!r}, now {new_values.get(key)!r}"
        return "none"

    def storage(self) -> Any:
        """The Optuna storage shared by every worker (a journal file)."""
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        self.path.mkdir(parents=True, exist_ok=True)
        lock = JournalFileOpenLock(str(self.journal))
        return JournalStorage(JournalFileBackend(str(self.journal), lock_obj=lock))

    def budget_lock(self) -> Any:
        """A lock (open(O_EXCL), safe on NFS) held while a worker counts trials and asks."""
        from optuna.storages.journal import JournalFileOpenLock

        return JournalFileOpenLock(str(self.path / "budget"))
