"""Which config fields a method, sparse strategy and conflict source read, and what follows."""

from __future__ import annotations

import dataclasses

import pytest

from rest.applicability import declared_fields
from rest.config import MethodOptions, ReweightConfig, TrainConfig, replace
from rest.errors import RestError
from rest.methods import METHODS
from rest.naming import run_name
from rest.resolve import resolve
from rest.sparse.config import SparseConfig
from rest.sweep import plan_sweep

from training_testing import tiny_config


def test_every_method_specific_field_is_read_by_some_method():
    """A new field in these sections must be declared, or no check could cover it."""
    declared = set(declared_fields())
    for section, kind in (("reweight", ReweightConfig), ("options", MethodOptions)):
        for field in dataclasses.fields(kind):
            assert f"{section}.{field.name}" in declared, field.name
    assert "sparse.alpha" in declared and "sparse.density" not in declared


@pytest.mark.parametrize("method", METHODS.names())
def test_a_resolved_config_resolves_again(method, tiny_splits):
    """What a run directory records (config.json) can be trained again as it is."""
    sections = {"sparse": {"density": 0.2}} if METHODS.get(method).sparse else {}
    resolved = resolve(tiny_config(method, **sections), tiny_splits)
    assert resolve(resolved, tiny_splits) == resolved


@pytest.mark.parametrize(
    ("method", "changes", "flag"),
    [
        ("erm", {"reweight.lambda_up": 80.0}, "--lambda-up"),
        ("groupdro", {"reweight.reweight_by": "loss"}, "--reweight-by"),
        ("rest", {"options.groupdro_eta": 0.5}, "--groupdro-eta"),
        ("lff", {"options.groupdro_balanced": False}, "--groupdro-balanced"),
        ("rest", {"sparse.strategy": "static", "sparse.alpha": 0.3}, "--alpha"),
        ("sparse", {"sparse.strategy": "snip", "sparse.target_updates": 5}, "--target-updates"),
        ("rest", {"reweight.infer_epochs": 5}, "--infer-epochs"),
        ("jtt", {"reweight.gce_q": 0.5}, "--gce-q"),
        ("reweight", {"reweight.conflict_source": "jtt", "reweight.gce_q": 0.5}, "--gce-q"),
    ],
)
def test_resolve_rejects_a_changed_field_the_method_does_not_read(
    method, changes, flag, tiny_splits
):
    config = replace(tiny_config(method), **changes)
    with pytest.raises(RestError, match=f"does not read {flag}"):
        resolve(config, tiny_splits)


def test_sweep_applies_a_field_only_where_it_is_read(tmp_path):
    base = replace(TrainConfig(), **{"reweight.lambda_up": 30.0, "options.groupdro_eta": 0.5})
    runs = {r.config.method: r for r in plan_sweep(base, ["erm", "rest", "groupdro"], out=tmp_path)}
    plain = {r.config.method: r for r in plan_sweep(TrainConfig(), ["erm"], out=tmp_path)}
    assert runs["erm"].name == plain["erm"].name  # same config, same hash
    assert runs["erm"].config == plain["erm"].config
    assert runs["rest"].config.reweight.lambda_up == 30.0
    assert runs["rest"].config.options.groupdro_eta == MethodOptions().groupdro_eta
    assert runs["groupdro"].config.options.groupdro_eta == 0.5
    assert runs["groupdro"].config.reweight.lambda_up is None


def test_sweep_with_a_static_strategy_refuses_and_drops_dynamic_fields(tmp_path):
    base = replace(TrainConfig(), **{"sparse.strategy": "static", "sparse.density": 0.1})
    with pytest.raises(RestError, match="--alpha is read by none"):
        plan_sweep(replace(base, **{"sparse.alpha": 0.3}), ["rest"], out=tmp_path)
    [run] = plan_sweep(base, ["rest"], out=tmp_path)
    assert run.config.sparse.alpha == SparseConfig().alpha
    assert run_name(run.config).startswith("rest-")


def test_sweep_rejects_a_field_no_swept_method_reads(tmp_path):
    base = replace(TrainConfig(), **{"reweight.lambda_up": 30.0})
    with pytest.raises(RestError, match="--lambda-up is read by none of the methods"):
        plan_sweep(base, ["erm", "groupdro"], out=tmp_path)


def test_inference_settings_apply_with_the_source_that_reads_them(tiny_splits):
    gce = {"reweight.conflict_source": "gce", "reweight.gce_q": 0.5, "reweight.infer_epochs": 1}
    resolved = resolve(replace(tiny_config("rest"), **gce), tiny_splits)
    assert resolved.reweight.gce_q == 0.5 and resolved.reweight.infer_epochs == 1
    jtt = resolve(replace(tiny_config("jtt"), **{"reweight.infer_epochs": 1}), tiny_splits)
    assert jtt.reweight.infer_epochs == 1


def test_sweep_gives_inference_settings_to_the_methods_whose_source_reads_them(tmp_path):
    base = replace(TrainConfig(), **{"reweight.conflict_source": "gce", "reweight.gce_q": 0.5})
    runs = {r.config.method: r.config for r in plan_sweep(base, ["jtt", "rest"], out=tmp_path)}
    assert runs["rest"].reweight.gce_q == 0.5
    assert runs["jtt"].reweight.gce_q == ReweightConfig().gce_q


def test_jtt_reads_its_inference_settings_whatever_the_base_source(tmp_path):
    base = replace(
        TrainConfig(), **{"reweight.conflict_source": "labels", "reweight.infer_epochs": 5}
    )
    runs = {r.config.method: r.config for r in plan_sweep(base, ["jtt", "rest"], out=tmp_path)}
    assert runs["jtt"].reweight.infer_epochs == 5  # jtt always infers with an ERM model
    assert runs["rest"].reweight.infer_epochs == ReweightConfig().infer_epochs  # labels
