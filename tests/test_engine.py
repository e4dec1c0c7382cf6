"""End-to-end runs of every method on tiny generated data, run directories and resume."""

from __future__ import annotations

import json

import pytest
import torch

from rest import trainer
from rest.engine import fit
from rest.errors import RestError
from rest.loader import BatchLoader
from rest.methods import METHODS
from rest.reweight.weights import expected_upweighted_share, upweight
from rest.runs import RunDirectory
from rest.trainer import Trainer

from training_testing import make_splits, tiny_config

SPLIT_METRICS = {
    "count",
    "accuracy",
    "loss",
    "unbiased",
    "worst_group",
    "aligned",
    "conflicting",
    "groups",
}


@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_trains_and_reports_the_summary_schema(method, tiny_splits, tmp_path):
    sections = {"sparse": {"density": 0.2}} if METHODS.get(method).sparse else {}
    config = tiny_config(method, **sections)
    summary = fit(config, tiny_splits, out=tmp_path / method, show_progress=False)

    assert summary["status"] == "done" and summary["method"] == method
    for key in ("selected", "last"):
        assert set(summary[key]["test"]) == SPLIT_METRICS
        assert set(summary[key]["valid"]) == SPLIT_METRICS
        assert len(summary[key]["test"]["groups"]) == 16  # every (y, b) pair occurs in test
    assert summary["selection"]["metric"] == "valid worst_group"
    assert summary["last"]["epoch"] == 2
    run = RunDirectory(tmp_path / method)
    records = run.read_metrics()
    assert [r["epoch"] for r in records] == [1, 2]
    assert run.best_checkpoint.is_file() and run.last_checkpoint.is_file()
    assert json.loads(run.config_path.read_text())["method"] == method
    size = summary["size"]
    if METHODS.get(method).sparse:
        assert summary["density"] == 0.2
        assert size["nonzeros"] < size["total_params"]
        assert summary["flops"]["inference"]["ratio"] < 1
        assert summary["sparse"]["updates_done"] >= 1
    else:
        assert summary["density"] == 1.0 and summary["sparse"] is None
        assert size["nonzeros"] == size["total_params"]
    if method in ("reweight", "rest", "jtt"):
        assert summary["reweight"]["lambda_up"] >= 1
    if method == "jtt":  # inferred set is scored against the bias labels
        assert 0 <= summary["reweight"]["recall"] <= 1


def test_sampler_draws_conflicting_samples_at_the_share_lambda_predicts(tiny_splits):
    train = tiny_splits.train
    conflicting = train.conflicting
    for lambda_up in (1.0, 10.0, 50.0):
        loader = BatchLoader(
            train,
            batch_size=64,
            device=torch.device("cpu"),
            generator=torch.Generator().manual_seed(0),
            sample_weights=upweight(conflicting, lambda_up),
        )
        draws = torch.cat([loader.epoch_indices() for _ in range(200)])
        share = conflicting[draws].float().mean().item()
        expected = expected_upweighted_share(conflicting, lambda_up)
        assert share == pytest.approx(expected, abs=0.01)
    # 16 of 320 conflicting at lambda 50: 800 / (800 + 304)
    assert expected_upweighted_share(conflicting, 50.0) == pytest.approx(800 / 1104)


def test_reweight_method_applies_the_configured_lambda(tiny_splits, tmp_path):
    summary = fit(
        tiny_config("reweight", reweight={"lambda_up": 7.0}), tiny_splits, show_progress=False
    )
    assert summary["reweight"]["lambda_up"] == 7.0
    assert summary["reweight"]["upweighted"] == int(tiny_splits.train.conflicting.sum())
    default = fit(tiny_config("reweight"), tiny_splits, show_progress=False)
    assert default["reweight"]["lambda_up"] == 80.0  # 5% conflicting share


def test_loss_reweighting_uses_uniform_sampling_and_weighted_loss(tiny_splits):
    from rest.methods.base import MethodContext

    config = tiny_config("reweight", reweight={"reweight_by": "loss", "lambda_up": 5.0})
    from rest.resolve import resolve

    config = resolve(config, tiny_splits)
    context = MethodContext(config, tiny_splits, torch.device("cpu"), None, None)  # type: ignore[arg-type]
    method = METHODS.get("reweight")(context)
    method.prepare()
    assert method.sample_weights() is None
    assert set(method.weights.unique().tolist()) == {1.0, 5.0}


def _train_calls(monkeypatch):
    calls = []
    original = Trainer.train_epoch

    def counting(self, description):
        calls.append(description)
        return original(self, description)

    monkeypatch.setattr(Trainer, "train_epoch", counting)
    return calls


def test_finished_run_is_not_trained_again(tiny_splits, tmp_path, monkeypatch):
    config = tiny_config("erm")
    first = fit(config, tiny_splits, out=tmp_path / "run", show_progress=False)
    calls = _train_calls(monkeypatch)
    again = fit(config, tiny_splits, out=tmp_path / "run", show_progress=False)
    assert calls == []
    assert again == json.loads(json.dumps(first))


def test_killed_run_resumes_to_the_same_result(tiny_splits, tmp_path, monkeypatch):
    config = tiny_config("rest", optim={"epochs": 4}, sparse={"density": 0.3})
    reference = fit(config, tiny_splits, out=tmp_path / "reference", show_progress=False)

    original = Trainer.train_epoch
    epochs_run = []

    def killed_in_third_epoch(self, description):
        if len(epochs_run) == 2:
            raise KeyboardInterrupt  # what a kill mid-epoch leaves: state saved after epoch 2
        epochs_run.append(description)
        return original(self, description)

    monkeypatch.setattr(Trainer, "train_epoch", killed_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(config, tiny_splits, out=tmp_path / "killed", show_progress=False)
    run = RunDirectory(tmp_path / "killed")
    assert not run.finished and run.resume_state.is_file()
    # a half-written metrics line after the last saved state is dropped on resume
    with run.metrics_path.open("a") as handle:
        handle.write('{"epoch": 3, "trunc')

    with pytest.raises(RestError, match="--resume"):
        fit(config, tiny_splits, out=tmp_path / "killed", show_progress=False)

    monkeypatch.setattr(Trainer, "train_epoch", original)
    resumed = fit(config, tiny_splits, out=tmp_path / "killed", resume=True, show_progress=False)
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2, 3, 4]
    assert set(resumed) == set(reference)
    for key in ("selected", "last"):
        assert resumed[key]["test"]["accuracy"] == pytest.approx(reference[key]["test"]["accuracy"])
        assert resumed[key]["epoch"] == reference[key]["epoch"]
    assert resumed["sparse"]["updates_done"] == reference["sparse"]["updates_done"]


def test_resume_with_other_settings_is_refused(tiny_splits, tmp_path, monkeypatch):
    fit(tiny_config("erm"), tiny_splits, out=tmp_path / "run", show_progress=False)
    other = tiny_config("erm", optim={"lr": 0.2})
    with pytest.raises(RestError, match=r"optim\.lr"):
        fit(other, tiny_splits, out=tmp_path / "run", resume=True, show_progress=False)


def test_without_validation_the_last_epoch_is_reported(tmp_path):
    splits = make_splits(valid=False)
    summary = fit(tiny_config("erm"), splits, show_progress=False)
    assert summary["selection"] == {"metric": "last epoch", "epoch": 2}


@pytest.mark.parametrize(
    ("config", "with_bias", "message"),
    [
        (tiny_config("erm", sparse={"density": 0.3}), True, "dense network"),
        (tiny_config("jtt", reweight={"conflict_source": "labels"}), True, "always infers"),
        (tiny_config("erm", reweight={"conflict_source": "jtt"}), True, "does not reweight"),
        (tiny_config("groupdro"), False, "needs bias labels"),
        (tiny_config("rest"), False, "--conflict-source labels needs bias labels"),
    ],
)
def test_invalid_combinations_fail_with_one_line(config, with_bias, message, tmp_path):
    with pytest.raises(RestError, match=message) as error:
        fit(config, make_splits(with_bias=with_bias), out=tmp_path / "run", show_progress=False)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_rest_without_bias_labels_infers_the_set(tmp_path):
    config = tiny_config("rest", reweight={"conflict_source": "gce"}, sparse={"density": 0.5})
    summary = fit(config, make_splits(with_bias=False), show_progress=False)
    assert summary["reweight"]["source"] == "gce"
    assert "precision" not in summary["reweight"]  # nothing to score against
    assert summary["selection"]["metric"] == "valid accuracy"


def test_divergence_is_reported(tiny_splits, monkeypatch):
    def nan_loss(self, model, batch):
        logits = model(batch.images)
        return logits.sum() * float("nan"), logits

    monkeypatch.setattr(METHODS.get("erm"), "loss", nan_loss)
    with pytest.raises(RestError, match="diverged"):
        fit(tiny_config("erm"), tiny_splits, show_progress=False)


def test_device_auto_picks_cpu_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert trainer.resolve_device("auto").type == "cpu"
    with pytest.raises(RestError, match="no CUDA"):
        trainer.resolve_device("cuda")


def test_groupdro_draws_every_group_equally_often(tiny_splits):
    from rest.methods.base import MethodContext
    from rest.resolve import resolve

    config = resolve(tiny_config("groupdro"), tiny_splits)
    context = MethodContext(config, tiny_splits, torch.device("cpu"), None, None)  # type: ignore[arg-type]
    weights = METHODS.get("groupdro")(context).sample_weights()
    assert weights is not None
    loader = BatchLoader(
        tiny_splits.train, 64, torch.device("cpu"), torch.Generator().manual_seed(0), weights
    )
    draws = torch.cat([loader.epoch_indices() for _ in range(100)])
    groups = tiny_splits.train.group_ids[draws]
    present = torch.bincount(tiny_splits.train.group_ids) > 0
    shares = torch.bincount(groups, minlength=present.numel())[present].double() / len(draws)
    assert torch.allclose(shares, torch.full_like(shares, 1 / int(present.sum())), atol=0.01)

    plain = tiny_config("groupdro", options={"groupdro_balanced": False})
    context = MethodContext(
        resolve(plain, tiny_splits), tiny_splits, torch.device("cpu"), None, None
    )  # type: ignore[arg-type]
    assert METHODS.get("groupdro")(context).sample_weights() is None
