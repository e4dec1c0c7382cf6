"""Conflict-set inference: the error set of the inference model, scored against the bias
labels, and label-free runs that never read the bias labels."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rest.data.dataset import BiasedDataset, BiasedSplits
from rest.engine import fit
from rest.methods.base import Method
from rest.reweight.inference import GCEBiasedModelLoss, infer_conflict_set, score_against_labels
from rest.reweight.weights import default_lambda_up

from methods_testing import build_method
from training_testing import make_split, tiny_config


class PixelClassifier(nn.Module):
    """Predicts the class written in each image's first pixel (a hand-made model whose
    predictions, and so whose error set, are known in advance)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        written = (images[:, 0, 0, 0] * 255).round()
        return -(torch.arange(4.0)[None, :] - written[:, None]).abs()


def _splits(targets, biases, predicted) -> BiasedSplits:
    images = torch.zeros(len(targets), 3, 12, 12, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.tensor(predicted, dtype=torch.uint8)
    train = BiasedDataset(
        images=images,
        targets=torch.tensor(targets),
        biases=torch.tensor(biases),
        num_classes=4,
        num_biases=4,
    )
    return BiasedSplits(train=train, valid=None, test=train, name="hand", info={"model": "cnn"})


@pytest.mark.parametrize("source", ["jtt", "gce"])
def test_error_set_and_its_precision_recall(source):
    # conflicting (b != y): samples 1, 4, 6; the model errs on 1, 2, 4, 7
    targets = [0, 1, 2, 3, 0, 1, 2, 3]
    biases = [0, 2, 2, 3, 3, 1, 0, 3]
    predicted = [0, 2, 3, 3, 3, 1, 2, 0]
    splits = _splits(targets, biases, predicted)
    trained: list[tuple[type, int]] = []

    def train_auxiliary(method, epochs, description):
        trained.append((type(method), epochs))
        return PixelClassifier()

    config = tiny_config("reweight", reweight={"conflict_source": source, "infer_epochs": 3})
    method = build_method(config, splits, train_auxiliary)
    conflicts = infer_conflict_set(source, method.context)

    assert trained == [(Method if source == "jtt" else GCEBiasedModelLoss, 3)]
    assert conflicts.upweighted.tolist() == [False, True, True, False, True, False, False, True]
    # 2 of the 4 errors are conflicting (precision), 2 of the 3 conflicting are errors (recall)
    report = conflicts.report
    assert report["precision"] == pytest.approx(2 / 4)
    assert report["recall"] == pytest.approx(2 / 3)
    assert (report["upweighted"], report["upweighted_share"]) == (4, 0.5)


def test_scores_of_empty_sets_are_undefined():
    none = torch.zeros(4, dtype=torch.bool)
    some = torch.tensor([True, False, True, False])
    assert score_against_labels(none, some) == {"precision": None, "recall": 0.0}
    assert score_against_labels(some, none) == {"precision": 0.0, "recall": None}
    assert score_against_labels(some, some) == {"precision": 1.0, "recall": 1.0}


def _splits_with_share(conflict_share: float, with_bias: bool) -> BiasedSplits:
    return BiasedSplits(
        train=make_split(320, conflict_share, 0, "train", with_bias),
        valid=make_split(96, 0.75, 1, "valid", with_bias),
        test=make_split(96, 0.75, 2, "test", with_bias),
        name="tiny",
        info={"name": "tiny", "augment": "none", "model": "cnn"},
    )


# jtt's one-epoch ERM errs on far fewer than the 5% conflicting samples (lambda_up 80 by
# the table); gce's one-epoch biased model errs on far more than 1 sample in 320 (10)
@pytest.mark.parametrize(("source", "true_share"), [("jtt", 0.05), ("gce", 1 / 320)])
def test_label_free_runs_train_identically_with_and_without_bias_labels(source, true_share):
    labelled = _splits_with_share(true_share, with_bias=True)
    unlabelled = _splits_with_share(true_share, with_bias=False)
    assert labelled.train.conflicting.float().mean().item() == pytest.approx(true_share)
    config = tiny_config(
        "reweight", reweight={"conflict_source": source, "infer_epochs": 1}, optim={"epochs": 1}
    )
    with_labels = fit(config, labelled, show_progress=False)
    without = fit(config, unlabelled, show_progress=False)

    inferred_share = with_labels["reweight"]["upweighted_share"]
    assert default_lambda_up(inferred_share) != default_lambda_up(true_share)
    assert with_labels["reweight"]["lambda_up"] == default_lambda_up(inferred_share)
    assert without["reweight"]["lambda_up"] == with_labels["reweight"]["lambda_up"]
    assert without["reweight"]["upweighted_share"] == inferred_share
    assert without["last"]["valid"]["accuracy"] == with_labels["last"]["valid"]["accuracy"]
    assert without["last"]["valid"]["loss"] == with_labels["last"]["valid"]["loss"]
