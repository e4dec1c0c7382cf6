"""Model selection reads validation only: changing the test split never moves it."""

from __future__ import annotations

import dataclasses

import torch

from rest.data.dataset import BiasedSplits
from rest.engine import fit

from training_testing import tiny_config


def _with_shuffled_test_labels(splits: BiasedSplits, seed: int) -> BiasedSplits:
    generator = torch.Generator().manual_seed(seed)
    test = splits.test
    order = torch.randperm(len(test), generator=generator)
    shuffled = dataclasses.replace(test, targets=test.targets[order], biases=test.biases[order])
    return dataclasses.replace(splits, test=shuffled)


def test_selected_epoch_never_depends_on_test_labels(tiny_splits):
    config = tiny_config("erm", optim={"epochs": 4, "lr": 0.02})
    reference = fit(config, tiny_splits, show_progress=False)
    selected = reference["selection"]["epoch"]
    assert reference["selection"]["metric"] == "valid worst_group"
    for seed in (1, 2):
        perturbed = fit(config, _with_shuffled_test_labels(tiny_splits, seed), show_progress=False)
        assert perturbed["selection"]["epoch"] == selected
        assert perturbed["selected"]["valid"] == reference["selected"]["valid"]
        assert perturbed["selected"]["test"] != reference["selected"]["test"]
