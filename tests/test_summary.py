"""The run summary's training FLOPs: every model a run trains, every sample it trains on."""

from __future__ import annotations

import pytest
import torch

from rest.engine import fit
from rest.sparse import training_flops
from rest.sparse.flops import inference_flops

from training_testing import tiny_config

# 320 training samples in batches of 100: 4 steps per epoch, the last one of 20 samples
BATCH = 100


def _run(method: str, tiny_splits, **sections) -> tuple[dict, float]:
    config = tiny_config(method, optim={"batch_size": BATCH, "epochs": 1}, **sections)
    summary = fit(config, tiny_splits, show_progress=False)
    return summary["flops"]["training"], summary["flops"]["inference"]["dense"]


def test_erm_counts_the_partial_last_batch_at_its_real_size(tiny_splits):
    flops, forward = _run("erm", tiny_splits)
    samples = 320  # an epoch trains on len(train) samples, not 4 steps * 100
    assert (flops["steps"], flops["samples"]) == (4, samples)
    assert flops["components"] == {
        "main": {"dense": 3 * forward * samples, "sparse": 3 * forward * samples}
    }
    assert flops["dense"] == flops["sparse"] == 3 * forward * samples


def test_lff_counts_its_biased_model_on_every_step(tiny_splits):
    flops, forward = _run("lff", tiny_splits)
    main = 3 * forward * 320
    assert flops["components"]["main"]["dense"] == main
    assert flops["components"]["lff_biased_model"] == {"dense": main, "sparse": main}
    assert flops["dense"] == flops["sparse"] == 2 * main


@pytest.mark.parametrize("source", ["jtt", "gce"])
def test_inferred_conflict_sets_count_their_inference_model(source, tiny_splits):
    config = {"conflict_source": source, "infer_epochs": 3}
    flops, forward = _run("rest", tiny_splits, reweight=config, sparse={"density": 0.2})
    # 3 training epochs of the dense inference model, then one pass to find its errors
    inference = forward * (3 * 3 * 320 + 320)
    assert flops["components"][f"{source}_inference"] == {"dense": inference, "sparse": inference}
    main = flops["components"]["main"]
    assert main["dense"] == 3 * forward * 320
    assert main["sparse"] < main["dense"]
    assert flops["dense"] == main["dense"] + inference
    assert flops["sparse"] == pytest.approx(main["sparse"] + inference)
    assert flops["ratio"] == pytest.approx(flops["sparse"] / flops["dense"])


def test_oracle_reweighting_trains_no_other_model(tiny_splits):
    flops, _ = _run("reweight", tiny_splits)
    assert set(flops["components"]) == {"main"}


def test_training_flops_of_a_masked_model_with_other_models():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4, bias=False))
    masks = {"1.weight": torch.arange(48).view(4, 12) % 4 == 0}  # density 0.25
    dense = inference_flops(model, (3, 2, 2))["dense"]
    assert dense == 2 * 12 * 4
    flops = training_flops(
        model,
        (3, 2, 2),
        masks,
        steps=3,
        batch_size=8,
        samples=20,
        dense_gradient_updates=1,
        other_models={"scoring": 16},
    )
    main_sparse = 3 * dense * 0.25 * 20 + dense * 0.75 * 8  # + one dense-gradient backward
    assert flops["components"]["main"] == {"dense": 3 * dense * 20, "sparse": main_sparse}
    assert flops["components"]["scoring"] == {"dense": 16 * dense, "sparse": 16 * dense}
    assert flops["sparse"] == pytest.approx(main_sparse + 16 * dense)


@pytest.mark.parametrize(
    ("strategy", "forward_passes", "backward_passes"), [("snip", 1, 1), ("grasp", 2, 3)]
)
def test_mask_scoring_passes_count_as_dense_training(
    strategy, forward_passes, backward_passes, tiny_splits
):
    flops, forward = _run("rest", tiny_splits, sparse={"density": 0.2, "strategy": strategy})
    scored = 320  # the 4 scored batches cover the whole tiny training split
    passes = scored * (forward_passes + 2 * backward_passes)
    assert flops["components"]["mask_scoring"] == {
        "dense": forward * passes,
        "sparse": forward * passes,
    }
    main = flops["components"]["main"]
    assert flops["dense"] == main["dense"] + forward * passes
