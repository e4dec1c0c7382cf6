"""The search spaces: real config fields, valid ranges, only fields a method reads."""

from __future__ import annotations

import pytest

from rest.config import TrainConfig, replace
from rest.engine import fit
from rest.methods import METHODS
from rest.sweep import method_config
from rest.tune.spaces import OPTIMISATION, SEARCH_SPACES, search_space
from rest.tune.trials import trial_config

from training_testing import make_splits, tiny_config


def _extremes(param) -> list:
    return list(param.choices) if param.choices is not None else [param.low, param.high]


def test_every_method_has_a_space_of_real_fields_with_valid_ranges() -> None:
    assert set(SEARCH_SPACES) == set(METHODS.names())
    for method in METHODS.names():
        base = method_config(tiny_config("rest"), method, 0.5)
        for param in search_space(method):
            section, name = param.path.split(".")
            assert name in TrainConfig().to_dict()[section], param.path
            for value in _extremes(param):
                # every end of every range is a config the validation accepts
                replace(base, **{param.path: int(value) if param.integer else value})


def test_density_is_never_tuned() -> None:
    for space in SEARCH_SPACES.values():
        assert all(param.path != "sparse.density" for param in space)


# Every field beyond the shared optimisation ones, per method: each must change how
# that method trains, or the method is given a knob it does not read.
OWN_FIELDS = [
    (method, param)
    for method, space in SEARCH_SPACES.items()
    for param in space
    if param not in OPTIMISATION
]


@pytest.mark.parametrize(
    ("method", "param"), OWN_FIELDS, ids=[f"{m}-{p.path}" for m, p in OWN_FIELDS]
)
def test_every_tuned_field_changes_its_methods_training(method, param) -> None:
    splits = make_splits()
    # LfF's moving average only acts when a sample is seen again: two epochs for it.
    epochs = 2 if param.path == "options.lff_ema" else 1
    base = method_config(
        tiny_config(
            "rest",
            optim={"epochs": epochs, "batch_size": 16, "lr": 0.002},
            reweight={"infer_epochs": 1},
        ),
        method,
        0.5,
    )
    losses = []
    for value in _extremes(param):
        config = trial_config(base, {param.path: value})
        summary = fit(config, splits, None, show_progress=False)
        assert summary["config"][param.path.split(".")[0]][param.path.split(".")[1]] == value
        losses.append(summary["last"]["valid"]["loss"])
    assert losses[0] != losses[1], f"{param.path} does not change how {method} trains"
